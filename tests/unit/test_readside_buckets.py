"""Splitting an aggregate's range into partial edges and whole UTC buckets."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

import pytest

from consumer.readside.buckets import answerable, bucket_count, ceil, floor, segments
from consumer.readside.models import Interval

D = datetime(2026, 3, 10, tzinfo=UTC)
H = timedelta(hours=1)


def _shape(start: datetime, end: datetime, interval: Interval) -> list[tuple[object, ...]]:
    return [(p.start, p.end, p.whole, p.bucket) for p in segments(start, end, interval)]


def test_unaligned_range_has_partial_head_whole_middle_partial_tail() -> None:
    start, end = D + 5 * H, D + timedelta(days=3) + 7 * H
    assert _shape(start, end, Interval.DAY) == [
        (start, D + timedelta(days=1), False, D),
        (D + timedelta(days=1), D + timedelta(days=3), True, D + timedelta(days=1)),
        (D + timedelta(days=3), end, False, D + timedelta(days=3)),
    ]


def test_aligned_range_is_only_whole_buckets() -> None:
    assert _shape(D, D + timedelta(days=2), Interval.DAY) == [(D, D + timedelta(days=2), True, D)]


def test_range_inside_one_bucket_is_one_partial_segment() -> None:
    start, end = D + 10 * H, D + 11 * H
    assert _shape(start, end, Interval.DAY) == [(start, end, False, D)]


def test_adjacent_partials_without_whole_bucket_between() -> None:
    start, end = D + 20 * H, D + timedelta(days=1) + 3 * H
    assert _shape(start, end, Interval.DAY) == [
        (start, D + timedelta(days=1), False, D),
        (D + timedelta(days=1), end, False, D + timedelta(days=1)),
    ]


def test_aligned_start_unaligned_end_has_only_a_partial_tail() -> None:
    end = D + 2 * H + timedelta(minutes=30)
    assert _shape(D, end, Interval.HOUR) == [
        (D, D + 2 * H, True, D),
        (D + 2 * H, end, False, D + 2 * H),
    ]


@pytest.mark.parametrize("end", [D, D - H])
def test_empty_or_reversed_range_has_no_segments(end: datetime) -> None:
    assert segments(D, end, Interval.HOUR) == []
    assert bucket_count(D, end, Interval.HOUR) == 0


def test_buckets_are_utc_whatever_the_offset() -> None:
    india = timezone(timedelta(hours=5, minutes=30))
    moment = datetime(2026, 3, 10, 2, 0, tzinfo=india)  # 2026-03-09 20:30 UTC
    assert floor(moment, Interval.DAY) == datetime(2026, 3, 9, tzinfo=UTC)
    assert floor(moment, Interval.HOUR) == datetime(2026, 3, 9, 20, tzinfo=UTC)
    assert ceil(moment, Interval.HOUR) == datetime(2026, 3, 9, 21, tzinfo=UTC)
    assert ceil(D, Interval.DAY) == D


def test_segments_cover_the_range_exactly_without_overlap() -> None:
    for hours in range(0, 80, 7):
        start = D + timedelta(hours=hours, minutes=hours)
        end = start + timedelta(hours=hours * 2 + 1, minutes=13)
        for interval in Interval:
            parts = segments(start, end, interval)
            assert parts[0].start == start
            assert parts[-1].end == end
            assert all(a.end == b.start for a, b in itertools.pairwise(parts))


def test_bucket_count_counts_touched_buckets() -> None:
    assert bucket_count(D + 5 * H, D + timedelta(days=3) + 7 * H, Interval.DAY) == 4
    assert bucket_count(D, D + timedelta(days=90), Interval.DAY) == 90
    assert bucket_count(D + timedelta(minutes=1), D + 2 * H, Interval.HOUR) == 2


def test_a_partial_bucket_before_the_raw_retention_is_withheld_whole_ones_are_not() -> None:
    """Whole buckets outlive the raw samples (rollups); a partial edge starting before
    the raw retention cannot be summed, so it is named instead of answered."""
    day0 = datetime(2026, 10, 1, tzinfo=UTC)
    parts = segments(day0 + timedelta(hours=5), day0 + timedelta(days=40, hours=5), Interval.DAY)
    raw_since = day0 + timedelta(days=10)

    kept, withheld = answerable(parts, raw_since)

    assert withheld == [day0]
    assert [(p.whole, p.bucket) for p in kept] == [
        (True, day0 + timedelta(days=1)),
        (False, day0 + timedelta(days=40)),
    ]
    assert answerable(parts, day0) == (parts, [])
