"""Records fetched beyond a batch's limits are carried into the lane's next batch, in
offset order."""

from __future__ import annotations

from consumer.batching import Batch, BatchLimits
from consumer.coordinates import KafkaMessage, Record, RecordId, TopicPartition
from consumer.engine.carry import Carry

P0, P1, P2 = (TopicPartition("t", p) for p in range(3))


def records(tp: TopicPartition, first: int, count: int, size: int = 1) -> list[KafkaMessage]:
    """``count`` records of ``size`` payload bytes (a one-byte key and the value)."""
    return [
        Record(RecordId(tp.topic, tp.partition, offset), b"k", b"v" * (size - 1), (), 1)
        for offset in range(first, first + count)
    ]


def batch(max_records: int = 100, max_bytes: int = 10**9) -> Batch:
    return Batch(BatchLimits(max_records, max_bytes, 60))


def offsets(b: Batch, tp: TopicPartition) -> list[int]:
    return [r.offset for r in b.parts.get(tp, [])]


def test_records_of_other_lanes_are_carried_into_their_next_batch() -> None:
    carry, now = Carry(), batch()
    carry.route(now, P0, records(P0, 0, 3), mine={P0})
    carry.route(now, P1, records(P1, 10, 2), mine={P0})
    assert offsets(now, P0) == [0, 1, 2] and P1 not in now.parts
    later = batch()
    carry.take_into(later, mine={P1})
    assert offsets(later, P1) == [10, 11]
    assert len(carry) == 0


def test_what_a_batch_has_no_room_for_is_carried_not_lost() -> None:
    carry, full = Carry(), batch(max_records=2)
    carry.route(full, P0, records(P0, 0, 5), mine={P0})
    assert offsets(full, P0) == [0, 1]
    next_batch = batch(max_records=2)
    carry.take_into(next_batch, mine={P0})
    assert offsets(next_batch, P0) == [2, 3]
    last = batch()
    carry.take_into(last, mine=set())
    assert offsets(last, P0) == [4]


def test_a_fetch_never_overtakes_records_already_carried() -> None:
    carry, small = Carry(), batch(max_records=2)
    carry.route(small, P0, records(P0, 0, 3), mine={P0})  # offset 2 carried
    carry.route(small, P0, records(P0, 3, 2), mine={P0})  # behind it, not into the batch
    assert offsets(small, P0) == [0, 1]
    following = batch()
    carry.take_into(following, mine={P0})
    assert offsets(following, P0) == [2, 3, 4]


def test_taking_for_one_lane_leaves_the_others_carried() -> None:
    carry = Carry()
    carry.route(batch(), P1, records(P1, 0, 4), mine={P0})
    carry.route(batch(), P2, records(P2, 0, 1), mine={P0})
    taken = batch()
    carry.take_into(taken, mine={P2})
    assert offsets(taken, P2) == [0] and len(carry) == 4


def test_dropped_and_cleared_partitions_are_forgotten() -> None:
    carry = Carry()
    carry.route(batch(), P1, records(P1, 0, 2), mine={P0})
    carry.route(batch(), P2, records(P2, 0, 3), mine={P0})
    carry.drop(P1)
    assert len(carry) == 3
    carry.clear()
    assert len(carry) == 0


def test_a_batch_takes_records_only_up_to_its_byte_limit() -> None:
    carry, first = Carry(), batch(max_bytes=250)
    carry.route(first, P0, records(P0, 0, 5, size=100), mine={P0})
    assert offsets(first, P0) == [0, 1] and first.size_bytes == 200
    assert len(carry) == 3
    second = batch(max_bytes=250)
    carry.take_into(second, mine={P0})
    assert offsets(second, P0) == [2, 3] and second.size_bytes == 200 and len(carry) == 1


def test_a_record_larger_than_the_byte_limit_still_goes_alone_into_an_empty_batch() -> None:
    carry, empty = Carry(), batch(max_bytes=50)
    carry.route(empty, P0, records(P0, 0, 2, size=80), mine={P0})
    assert offsets(empty, P0) == [0]
    full = batch(max_bytes=50)
    carry.route(full, P1, records(P1, 7, 1, size=10), mine=set())
    carry.take_into(full, mine={P0})
    assert offsets(full, P1) == [7] and P0 not in full.parts and len(carry) == 1
