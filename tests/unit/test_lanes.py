"""The loop's choice of the lane to gather for next."""

from __future__ import annotations

from consumer.engine.lanes import choose_lane, lane_of


def test_a_free_lane_is_taken_in_turn() -> None:
    assert choose_lane([1, 2, 0], writing=set()) == 1
    assert choose_lane([1, 2, 0], writing={1}) == 2


def test_no_batch_is_gathered_for_a_lane_still_writing() -> None:
    assert choose_lane([0, 1, 2], writing={0, 1, 2}) is None


def test_lanes_without_partitions_are_never_chosen() -> None:
    assert choose_lane([2], writing={0}) == 2
    assert choose_lane([], writing=set()) is None


def test_partitions_are_dealt_to_lanes_by_number() -> None:
    assert [lane_of(p, 3) for p in range(7)] == [0, 1, 2, 0, 1, 2, 0]
