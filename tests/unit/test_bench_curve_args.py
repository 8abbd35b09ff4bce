"""`utxoiq bench curve`'s levels and kinds of sample time, as the command reads them."""

from __future__ import annotations

import pytest

from consumer.bench.workload import MetricTimes
from consumer.cli.bench_curve import parse_count, parse_levels, parse_times
from schemas.topics import Stream


def test_levels_take_counts_with_thousands_and_millions() -> None:
    assert parse_levels("0, 10M,50_000_000,60m") == [0, 10_000_000, 50_000_000, 60_000_000]
    assert parse_levels("500k") == [500_000]
    assert parse_count("5M", "--drop-day") == 5_000_000


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10M,0", "must ascend"),
        ("0,0", "must ascend"),
        ("ten", "not a row count"),
        ("", "not a row count"),
    ],
)
def test_levels_that_cannot_be_a_curve_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_levels(text)


def test_times_are_the_enum_and_backfill_is_for_metrics_only() -> None:
    both = [MetricTimes.LIVE, MetricTimes.BACKFILL]
    assert parse_times("live, Backfill,live", Stream.METRICS) == both
    assert parse_times("live", Stream.FEEDBACK) == [MetricTimes.LIVE]
    with pytest.raises(ValueError, match="metrics only"):
        parse_times("backfill", Stream.FEEDBACK)
    with pytest.raises(ValueError, match="live, backfill"):
        parse_times("yesterday", Stream.METRICS)
