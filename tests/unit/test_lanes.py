"""The loop's choice of the lane to gather for next."""

from __future__ import annotations

from consumer.engine.lanes import choose_lane

NOTHING = [0, 0, 0]


def test_a_free_lane_is_taken_in_turn() -> None:
    assert choose_lane([1, 2, 0], writing=set(), carried=NOTHING, dry=set()) == 1


def test_a_free_lane_with_records_carried_comes_before_one_in_turn() -> None:
    assert choose_lane([1, 2, 0], writing=set(), carried=[0, 0, 5], dry=set()) == 2


def test_a_dry_lane_comes_after_one_that_found_records_last_time() -> None:
    assert choose_lane([0, 1, 2], writing=set(), carried=NOTHING, dry={0}) == 1


def test_a_dry_lane_is_polled_when_it_is_the_only_free_one() -> None:
    assert choose_lane([0, 1, 2], writing={1, 2}, carried=[0, 0, 5], dry={0}) == 0


def test_no_batch_is_gathered_for_a_lane_still_writing() -> None:
    assert choose_lane([0, 1, 2], writing={0, 1, 2}, carried=[5, 5, 5], dry=set()) is None
    assert choose_lane([0, 1, 2], writing={0, 1, 2}, carried=NOTHING, dry=set()) is None


def test_lanes_without_partitions_are_never_chosen() -> None:
    assert choose_lane([2], writing={0}, carried=[9, 9, 0], dry=set()) == 2
    assert choose_lane([2], writing={0}, carried=[9, 0, 0], dry={2}) == 2
