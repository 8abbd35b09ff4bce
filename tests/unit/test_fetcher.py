"""Gathering and lane choice against a fake Kafka client: what a gather takes, what it
carries for the other lanes, what it drops, and which lane goes next."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka import TopicPartition as KafkaTopicPartition

from consumer.batching import Batch, BatchLimits
from consumer.coordinates import KafkaMessage, Record, RecordId, TopicPartition
from consumer.engine import lane_pool
from consumer.engine.carry import Carry
from consumer.engine.fetcher import Fetcher
from consumer.engine.lane_pool import LanePool
from consumer.engine.partitions import PartitionTable
from consumer.engine.status import Pulse
from consumer.redelivery import DeadLetterMarks
from consumer.telemetry import Telemetry

LANES = 3
P0, P1, P2 = (TopicPartition("t", p) for p in range(LANES))


def records(tp: TopicPartition, first: int, count: int) -> list[KafkaMessage]:
    return [
        Record(RecordId(tp.topic, tp.partition, offset), b"k", b"v", (), 0)
        for offset in range(first, first + count)
    ]


class FakeClient:
    """Answers each ``getmany`` with the next canned fetch, keeping only the partitions
    asked for; records what it was asked."""

    def __init__(self, *fetches: dict[TopicPartition, list[KafkaMessage]]) -> None:
        self._fetches = list(fetches)
        self.asked: list[tuple[set[int], int]] = []

    async def getmany(
        self, *partitions: KafkaTopicPartition, timeout_ms: int = 0, max_records: int = 0
    ) -> dict[KafkaTopicPartition, list[KafkaMessage]]:
        self.asked.append(({p.partition for p in partitions}, max_records))
        fetched = self._fetches.pop(0) if self._fetches else {}
        wanted = {p.partition for p in partitions}
        return {
            KafkaTopicPartition(tp.topic, tp.partition): rs
            for tp, rs in fetched.items()
            if not wanted or tp.partition in wanted
        }


def table(positions: dict[TopicPartition, int | None]) -> PartitionTable:
    held = PartitionTable("p", Telemetry(), Carry(), DeadLetterMarks(), {})
    held.positions.update(positions)
    return held


def fetcher(
    held: PartitionTable, max_records: int = 100, free: Sequence[int] = range(LANES)
) -> Fetcher:
    return Fetcher(held, BatchLimits(max_records, 10**9, 0.0), LANES, lambda lane: lane in free)


def empty_batch() -> Batch:
    return Batch(BatchLimits(10, 10**9, 0.0))


def offsets(got: Any, tp: TopicPartition) -> list[int]:
    return [r.offset for r in got.parts.get(tp, [])]


async def test_a_gather_keeps_its_lanes_records_and_carries_the_others() -> None:
    held = table({P0: 0, P1: 0, P2: 0})
    client = FakeClient({P0: records(P0, 0, 3), P1: records(P1, 0, 2)})
    gathering = fetcher(held)
    batch = await gathering.gather(client, asyncio.Event(), lane=0)
    assert batch is not None and offsets(batch, P0) == [0, 1, 2] and P1 not in batch.parts
    assert client.asked[0][0] == {0, 1, 2}  # the other lanes' partitions are taken too
    later = await gathering.gather(FakeClient(), asyncio.Event(), lane=1)
    assert later is not None and offsets(later, P1) == [0, 1]


async def test_records_below_the_stored_position_are_dropped_once_for_all() -> None:
    held = table({P0: 5, P1: 0, P2: 0})
    client = FakeClient({P0: records(P0, 3, 4)})
    batch = await fetcher(held).gather(client, asyncio.Event(), lane=0)
    assert batch is not None and offsets(batch, P0) == [5, 6]


def test_a_lane_carrying_a_batch_is_not_fetched_for_and_the_budget_caps_the_carry() -> None:
    held = table({P0: 0, P1: 0, P2: 0})
    gathering = fetcher(held, max_records=10)
    gathering.carry.route(empty_batch(), P1, records(P1, 0, 10), mine={P0})
    gathering.carry.route(empty_batch(), P2, records(P2, 0, 4), mine={P0})
    fetching, budget = gathering.fetchable([KafkaTopicPartition("t", 0)], empty_batch())
    assert {p.partition for p in fetching} == {0, 2}
    assert budget == 10 + (10 - 4)


def test_another_lane_with_carried_records_is_ready_only_when_free() -> None:
    held = table({P0: 0, P1: 0, P2: 0})
    busy = fetcher(held, free=[0])
    busy.carry.route(empty_batch(), P1, records(P1, 0, 1), mine={P0})
    mine = [KafkaTopicPartition("t", 0)]
    assert not busy.another_lane_ready(mine)
    free = fetcher(held, free=[0, 1])
    free.carry.route(empty_batch(), P1, records(P1, 0, 1), mine={P0})
    assert free.another_lane_ready(mine)


async def test_the_next_lane_is_a_free_one_with_carried_records_then_one_not_dry() -> None:
    held = table({P0: 0, P1: 0, P2: 0})
    lanes = LanePool(LANES, held, held.carry, Pulse())
    stop = asyncio.Event()
    assert await lanes.next_lane(0, stop) == 1  # in turn after the last
    lanes.found(1, anything=False)
    lanes.found(2, anything=False)
    assert await lanes.next_lane(0, stop) == 0  # dry lanes last
    held.carry.route(empty_batch(), P2, records(P2, 0, 1), mine={P0})
    assert await lanes.next_lane(0, stop) == 2  # records waiting first


class PausingClient:
    """A client whose partitions are all assigned; notes pauses, resumes and polls, and
    lets ``on_poll`` run at each poll."""

    def __init__(self, on_poll: asyncio.Event) -> None:
        self.assigned = {KafkaTopicPartition("t", p) for p in range(LANES)}
        self.paused: set[KafkaTopicPartition] = set()
        self.polls = 0
        self._on_poll = on_poll

    def assignment(self) -> set[KafkaTopicPartition]:
        return self.assigned

    def pause(self, *partitions: KafkaTopicPartition) -> None:
        self.paused |= set(partitions)

    def resume(self, *partitions: KafkaTopicPartition) -> None:
        self.paused -= set(partitions)

    async def getmany(self, *_: KafkaTopicPartition, timeout_ms: int = 0) -> dict[Any, Any]:
        assert self.paused == self.assigned, "polled while a partition could fetch"
        self.polls += 1
        self._on_poll.set()
        await asyncio.sleep(0)  # a poll waits on the broker: other tasks run meanwhile
        return {}


async def test_a_lane_waited_for_past_patience_is_waited_for_polling_with_all_paused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lane_pool, "LANE_PATIENCE_S", 0.0)
    polled = asyncio.Event()
    held = table({P0: 0, P1: 0, P2: 0})
    client = held.consumer = PausingClient(polled)
    lanes = LanePool(LANES, held, held.carry, Pulse())

    async def slow_write() -> None:
        await polled.wait()  # finishes only once the loop has polled meanwhile

    lanes.start(0, slow_write())
    await lanes.wait_for([0])
    assert client.polls >= 1
    assert not client.paused  # every positioned partition resumed afterwards
    assert lanes.free(0)
