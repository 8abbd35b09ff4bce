"""The fetch stage: gathering a micro-batch for one write lane from the Kafka client.

A gather first takes what was carried for its lane (``consumer.engine.carry``), then
polls. It also takes what the client has fetched for the busy lanes' partitions and
carries it, in offset order, into their next batches: left in the client's buffer,
those records would keep it from fetching their partitions again, and what the broker
received meanwhile would wait a whole write more. Records below a partition's stored
position (fetched before a seek took effect) are dropped here, by ``above_floor``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaTopicPartition

from consumer.batching import Batch, BatchLimits, above_floor
from consumer.coordinates import TopicPartition
from consumer.engine.lanes import lane_of
from consumer.engine.partitions import PartitionTable

IDLE_POLL_MS = 500
"""How long a gather with a single lane (or nothing positioned) waits for records."""
FETCH_MAX_WAIT_MS = 50
"""How long the broker may hold a fetch for more data. aiokafka keeps one fetch in
flight per broker, so a long wait on caught-up partitions starves the others."""
MAX_PARTITION_FETCH_BYTES = 4 * 1024 * 1024
FRESH_FETCH_MS = 5
SMALL_BATCH_FRACTION = 4
"""A small batch due on age as soon as it is gathered holds records that waited in the
fetch buffer while their lane wrote; the client fetches those partitions again only once
they are taken. One short poll more (``FRESH_FETCH_MS`` at most) takes what the broker
received meanwhile, which would otherwise wait for the lane's next batch. Only for a
batch under a quarter of ``UTXOIQ_BATCH_MAX_RECORDS``: in a drain, where the loop bounds
the rate, the poll's wait cost more than the fuller batches gained."""
GIVE_WAY_POLL_MS = 2
"""A gather with nothing of its own polls in slices this long while records are carried
for other lanes, so it gives way within about this long once one of them is free."""

Fetched = Mapping[KafkaTopicPartition, list[Any]]


class Fetcher:
    """Gathers batches for lanes; carries what it fetched for the others."""

    def __init__(
        self,
        table: PartitionTable,
        limits: BatchLimits,
        lanes: int,
        lane_free: Callable[[int], bool],
    ) -> None:
        self.table = table
        self.limits = limits
        self._lanes = lanes
        self._lane_free = lane_free
        self.carry = table.carry

    async def gather(
        self, consumer: AIOKafkaConsumer, stop: asyncio.Event, lane: int
    ) -> Batch | None:
        """A batch for ``lane`` (its positioned partitions; all of them with one lane):
        first what was carried for it, then fetched records. With one lane an idle loop
        waits ``IDLE_POLL_MS`` for records; with several, a batch age at most, and while
        it has nothing of its own and records are carried for other lanes, in polls of
        ``GIVE_WAY_POLL_MS``, giving way as soon as one of those lanes is free. None
        when the lane has no partitions while others do."""
        partitions = self.table.partitions_of(lane, self._lanes)
        if partitions is None:
            return None
        batch = Batch(self.limits)
        mine = {TopicPartition(k.topic, k.partition) for k in partitions}
        self.carry.take_into(batch, mine)
        if batch.at_limit():
            return batch
        poll = _Polls(self, consumer, partitions, mine, batch)
        return await poll.until_due(stop)

    def another_lane_ready(self, partitions: list[KafkaTopicPartition]) -> bool:
        """Whether a lane other than that of ``partitions`` (one lane's; with none, all
        of them) is free and has records carried for it."""
        if not partitions:
            return False
        lane = lane_of(partitions[0].partition, self._lanes)
        for other, (records, _) in enumerate(self.carry.held_per_lane(self._lanes)):
            if other != lane and records and self._lane_free(other):
                return True
        return False

    def fetchable(
        self, partitions: list[KafkaTopicPartition], batch: Batch
    ) -> tuple[list[KafkaTopicPartition], int]:
        """What to take from the client for a batch from ``partitions`` (all when empty):
        those, and the partitions of other lanes that carry less than a batch (in records
        and in bytes); and how many records at most: the batch's room, plus the least
        room among those lanes, so that whichever lane the client's records go to, none
        carries more than two batches' worth of records."""
        budget = max(batch.room, 1)
        if not partitions:
            return [], budget
        fetching = list(partitions)
        held = self.carry.held_per_lane(self._lanes)
        lane = lane_of(partitions[0].partition, self._lanes)
        limits = self.limits
        rooms = []
        for other in range(self._lanes):
            records, size = held[other]
            if other == lane or records >= limits.max_records or size >= limits.max_bytes:
                continue
            positioned = self.table.partitions_of(other, self._lanes)
            if positioned:
                fetching += positioned
                rooms.append(limits.max_records - records)
        return fetching, budget + min(rooms, default=0)

    def add_fetched(self, batch: Batch, fetched: Fetched, mine: set[TopicPartition]) -> None:
        """Add fetched records of ``mine`` (all when empty) to ``batch`` as far as it has
        room, and carry the rest; skip partitions not positioned and records below their
        stored positions."""
        table = self.table
        for ktp, messages in fetched.items():
            tp = TopicPartition(ktp.topic, ktp.partition)
            if tp not in table.positions or tp in table.unpositioned:
                continue
            self.carry.route(batch, tp, above_floor(messages, table.positions[tp]), mine)


class _Polls:
    """The polls of one gather, until its batch is due or it gives way."""

    def __init__(
        self,
        fetcher: Fetcher,
        consumer: AIOKafkaConsumer,
        partitions: list[KafkaTopicPartition],
        mine: set[TopicPartition],
        batch: Batch,
    ) -> None:
        self._fetcher = fetcher
        self._consumer = consumer
        self._partitions = partitions
        self._mine = mine
        self._batch = batch
        self._max_age_s = fetcher.limits.max_age_s
        self._idle_s = IDLE_POLL_MS / 1000 if not partitions else self._max_age_s
        self._started = time.monotonic()

    async def until_due(self, stop: asyncio.Event) -> Batch:
        batch, table = self._batch, self._fetcher.table
        first = True
        while True:
            sliced = not batch and bool(self._partitions) and bool(self._fetcher.carry)
            fetched = await self.poll(self._timeout_ms(sliced))
            if stop.is_set() or table.unpositioned or not (batch or fetched or sliced):
                return batch
            if not batch and self._give_way():
                return batch  # nothing of its own yet: another lane's turn
            if batch.is_full():
                if first and self._small():
                    await self.poll(FRESH_FETCH_MS)
                return batch
            first = False

    def _timeout_ms(self, sliced: bool) -> int:
        batch = self._batch
        wait_s = self._max_age_s - batch.age() if batch else self._idle_s
        if sliced:  # short polls, to give way as soon as another lane can go
            waited = time.monotonic() - self._started
            wait_s = min(self._idle_s - waited, GIVE_WAY_POLL_MS / 1000)
        return max(int(wait_s * 1000), 0)

    def _give_way(self) -> bool:
        waited = time.monotonic() - self._started
        return waited >= self._idle_s or self._fetcher.another_lane_ready(self._partitions)

    def _small(self) -> bool:
        batch, limits = self._batch, self._fetcher.limits
        small = len(batch) < limits.max_records // SMALL_BATCH_FRACTION
        return small and batch.size_bytes < limits.max_bytes

    async def poll(self, timeout_ms: int) -> Fetched:
        """One poll: records of the gather's partitions go into its batch, other
        lanes' are carried for them. What was fetched."""
        fetcher = self._fetcher
        fetching, budget = fetcher.fetchable(self._partitions, self._batch)
        fetched: Fetched = await self._consumer.getmany(
            *fetching, timeout_ms=timeout_ms, max_records=budget
        )
        fetcher.add_fetched(self._batch, fetched, self._mine)
        return fetched
