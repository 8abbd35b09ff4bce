"""The loop's choice of the lane to gather for next."""

from __future__ import annotations

from consumer.lanes import choose_lane

NOTHING = [0, 0, 0]


def test_a_free_lane_is_taken_in_turn() -> None:
    assert choose_lane([1, 2, 0], writing=[], carried=NOTHING, dry=set()) == 1


def test_a_free_lane_with_records_carried_comes_before_one_in_turn() -> None:
    assert choose_lane([1, 2, 0], writing=[], carried=[0, 0, 5], dry=set()) == 2


def test_a_dry_lane_waits_while_a_writing_lane_has_records_to_decode_ahead() -> None:
    chosen = choose_lane([0, 1, 2], writing=[2, 1], carried=[0, 0, 5], dry={0})
    assert chosen == 2


def test_a_lane_that_found_records_last_time_is_polled_before_decoding_ahead() -> None:
    chosen = choose_lane([0, 1, 2], writing=[2, 1], carried=[0, 0, 5], dry=set())
    assert chosen == 0


def test_a_dry_lane_is_polled_when_no_lane_has_records() -> None:
    assert choose_lane([0, 1, 2], writing=[2, 1], carried=NOTHING, dry={0}) == 0


def test_with_every_lane_writing_the_one_that_started_first_is_next() -> None:
    assert choose_lane([0, 1, 2], writing=[1, 2, 0], carried=NOTHING, dry=set()) == 1
    assert choose_lane([0, 1, 2], writing=[1, 2, 0], carried=[0, 0, 5], dry=set()) == 2


def test_lanes_without_partitions_are_never_chosen() -> None:
    assert choose_lane([2], writing=[0, 2], carried=[9, 9, 0], dry=set()) == 2
