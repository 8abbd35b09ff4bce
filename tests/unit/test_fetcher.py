"""Gathering and lane choice against a fake Kafka client: what a gather asks for and
takes, what it carries beyond its limits, what it drops, and which lane goes next."""

from __future__ import annotations

import asyncio
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


def fetcher(held: PartitionTable, max_records: int = 100) -> Fetcher:
    return Fetcher(held, BatchLimits(max_records, 10**9, 0.0), LANES)


def empty_batch() -> Batch:
    return Batch(BatchLimits(10, 10**9, 0.0))


def offsets(got: Any, tp: TopicPartition) -> list[int]:
    return [r.offset for r in got.parts.get(tp, [])]


async def test_a_gather_asks_only_for_its_lanes_partitions_as_many_as_it_has_room_for() -> None:
    held = table({P0: 0, P1: 0, P2: 0})
    client = FakeClient({P0: records(P0, 0, 3), P1: records(P1, 0, 2)})
    batch = await fetcher(held, max_records=10).gather(client, asyncio.Event(), lane=0)
    assert batch is not None and offsets(batch, P0) == [0, 1, 2] and P1 not in batch.parts
    assert client.asked[0] == ({0}, 10)  # the other lanes' records wait in the client
    assert not held.carry


async def test_what_a_batch_has_no_room_for_comes_first_in_the_lanes_next_batch() -> None:
    held = table({P0: 0, P1: 0, P2: 0})
    gathering = fetcher(held, max_records=2)
    first = await gathering.gather(FakeClient({P0: records(P0, 0, 3)}), asyncio.Event(), 0)
    assert first is not None and offsets(first, P0) == [0, 1]
    client = FakeClient({P0: records(P0, 3, 1)})
    second = await gathering.gather(client, asyncio.Event(), 0)
    assert second is not None and offsets(second, P0) == [2, 3]
    assert client.asked == [({0}, 1)]


async def test_records_below_the_stored_position_are_dropped_once_for_all() -> None:
    held = table({P0: 5, P1: 0, P2: 0})
    client = FakeClient({P0: records(P0, 3, 4)})
    batch = await fetcher(held).gather(client, asyncio.Event(), lane=0)
    assert batch is not None and offsets(batch, P0) == [5, 6]


async def test_the_next_lane_is_a_free_one_in_turn() -> None:
    held = table({P0: 0, P1: 0, P2: 0})
    lanes = LanePool(LANES, held, Pulse())
    stop = asyncio.Event()
    assert await lanes.next_lane(0, stop) == 1  # in turn after the last
    done = asyncio.Event()

    async def write() -> None:
        await done.wait()

    lanes.start(1, write())
    assert await lanes.next_lane(0, stop) == 2  # not the lane still writing
    done.set()
    await lanes.wait_for_all()


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
    lanes = LanePool(LANES, held, Pulse())

    async def slow_write() -> None:
        await polled.wait()  # finishes only once the loop has polled meanwhile

    lanes.start(0, slow_write())
    await lanes.wait_for([0])
    assert client.polls >= 1
    assert not client.paused  # every positioned partition resumed afterwards
    assert lanes.free(0)
