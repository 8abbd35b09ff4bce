"""The fetch stage: gathering a micro-batch for one write lane from the Kafka client.

A gather takes first what its lane's last gather fetched beyond that batch's limits
(``consumer.engine.carry``), then polls the client for its lane's partitions only, as
many records as the batch has room for, until the batch is full or due on age. The
other lanes' records stay in the client's buffer until their own gathers. Records below
a partition's stored position (fetched before a seek took effect) are dropped here, by
``above_floor``.

The constants below are the ones the benchmark shows to matter; each says by how much
(``utxoiq bench --repeat 3``, interleaved runs with and without, on the two-core
benchmark machine; "the base" is three runs of the code as it is, its range over them).
A short extra poll for a small batch, polling in 2 ms slices to give way to another
lane, and putting lanes whose last gather found nothing last were measured the same way
and removed: without them CPU per event, drain / min(fetch, write) and p99 at half rate
stayed within the base's range for every pipeline. So was gathering the other lanes'
records too and carrying them into their next batches: without it every figure stayed
within the range but CPU per event for feedback (14.2 us against 11.6-13.3, with its
drain / min(fetch, write) at the top of its range, 1.11) and jobs (12.8 against
8.2-12.7, with its p99 at 140 ms). Taking every partition's fetched records into the
carry while all lanes write was measured and left out too: the loop then polls through
every write and the client fetches again after each poll that took something; the
consumer's CPU per event under paced load rose by about a fifth while the p99 stayed
within the base's range (``docs/how-it-works.md``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaTopicPartition

from consumer.batching import Batch, BatchLimits, above_floor
from consumer.coordinates import TopicPartition
from consumer.engine.partitions import PartitionTable

IDLE_POLL_MS = 500
"""How long a gather with a single lane (or nothing positioned) waits for records. Not a
throughput setting: a drain never waits on it; it bounds how long an idle loop takes to
notice a stop, a rebalance or a partition to seek."""
FETCH_MAX_WAIT_MS = 50
"""How long the broker may hold a fetch for more data. aiokafka keeps one fetch in
flight per broker, so a long wait on caught-up partitions starves the others. With the
client's defaults instead (500 ms, and 1 MiB per partition for
``MAX_PARTITION_FETCH_BYTES``), metrics' p99 at half rate was 509 ms against the base's
127-340 and its drain / min(fetch, write) 0.53 against 0.60-0.75; feedback's CPU per
event 15.7 us against 11.6-13.3."""
MAX_PARTITION_FETCH_BYTES = 4 * 1024 * 1024
"""How much one fetch may bring per partition: a batch of 5,000 typical events is about
2 MiB. Measured together with ``FETCH_MAX_WAIT_MS``."""

Fetched = Mapping[KafkaTopicPartition, list[Any]]


class Fetcher:
    """Gathers batches for lanes."""

    def __init__(self, table: PartitionTable, limits: BatchLimits, lanes: int) -> None:
        self.table = table
        self.limits = limits
        self._lanes = lanes
        self.carry = table.carry

    async def gather(
        self, consumer: AIOKafkaConsumer, stop: asyncio.Event, lane: int
    ) -> Batch | None:
        """A batch for ``lane`` (its positioned partitions; all of them with one lane):
        first what its last gather fetched beyond that batch's limits, then fetched
        records, until the batch is full or due on age. An idle gather waits
        ``IDLE_POLL_MS`` with one lane and a batch age with several, so the loop turns
        to the other lanes. None when the lane has no partitions while others do."""
        partitions = self.table.partitions_of(lane, self._lanes)
        if partitions is None:
            return None
        batch = Batch(self.limits)
        mine = {TopicPartition(k.topic, k.partition) for k in partitions}
        self.carry.take_into(batch, mine)
        if batch.at_limit():
            return batch
        idle_s = IDLE_POLL_MS / 1000 if not partitions else self.limits.max_age_s
        started = time.monotonic()
        while True:
            wait_s = self.limits.max_age_s - batch.age() if batch else idle_s
            fetched: Fetched = await consumer.getmany(
                *partitions, timeout_ms=max(int(wait_s * 1000), 0), max_records=max(batch.room, 1)
            )
            self.add_fetched(batch, fetched, mine)
            if stop.is_set() or self.table.unpositioned or batch.is_full():
                return batch
            if not batch and (not fetched or time.monotonic() - started >= idle_s):
                return batch

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
