"""The benchmark's arithmetic: percentiles, commit latencies, interpolation, rates."""

from __future__ import annotations

import pytest

from consumer.bench.stats import (
    Observation,
    SentSpan,
    commit_latencies,
    interpolate,
    median_of,
    percentile,
    rate,
    ratio,
    weighted_percentile,
)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(100, 0, -1)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 1) == 7.0


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)


def test_weighted_percentile_counts_each_value_as_many_events() -> None:
    pairs = [(10.0, 98), (500.0, 1), (20.0, 1)]
    assert weighted_percentile(pairs, 50) == 10.0
    assert weighted_percentile(pairs, 99) == 20.0
    assert weighted_percentile(pairs, 100) == 500.0


def test_weighted_percentile_matches_the_unweighted_one() -> None:
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0]
    for q in (1, 25, 50, 90, 99, 100):
        assert weighted_percentile([(v, 1) for v in values], q) == percentile(values, q)


def test_weighted_percentile_ignores_empty_weights() -> None:
    assert weighted_percentile([(1.0, 0), (2.0, 3)], 1) == 2.0
    with pytest.raises(ValueError, match="no values"):
        weighted_percentile([(1.0, 0)], 50)


def test_commit_latency_is_the_first_observation_past_each_offset() -> None:
    spans = [SentSpan(0, 100, 10, event_time=1.0)]
    seen = {0: [Observation(1.2, 105), Observation(1.5, 110)]}
    latencies, missing = commit_latencies(spans, seen)
    assert missing == 0
    assert [count for _, count in latencies] == [5, 5]
    assert [value for value, _ in latencies] == pytest.approx([0.2, 0.5])


def test_events_never_seen_committed_are_counted_missing() -> None:
    spans = [SentSpan(0, 0, 4, 0.0), SentSpan(1, 0, 3, 0.0)]
    seen = {0: [Observation(0.1, 2)]}
    latencies, missing = commit_latencies(spans, seen)
    assert latencies == [(0.1, 2)]
    assert missing == 2 + 3


def test_an_observation_far_past_a_span_covers_all_of_it() -> None:
    spans = [SentSpan(2, 10, 3, 5.0), SentSpan(2, 13, 2, 5.5)]
    latencies, _ = commit_latencies(spans, {2: [Observation(6.0, 1000)]})
    assert latencies == [(1.0, 3), (0.5, 2)]


def test_interpolate_is_linear_and_clamped() -> None:
    series = [(0.0, 0.0), (1.0, 10.0), (3.0, 12.0)]
    assert interpolate(series, 0.5) == 5.0
    assert interpolate(series, 2.0) == 11.0
    assert interpolate(series, -1.0) == 0.0
    assert interpolate(series, 9.0) == 12.0


def test_rate_and_ratio_guard_against_zero() -> None:
    assert rate(100, 0.5) == 200.0
    assert rate(100, 0.0) == 0.0
    assert ratio(50.0, 100.0) == 0.5
    assert ratio(50.0, 0.0) is None
    assert ratio(None, 1.0) is None


def test_median_of_is_a_measured_item_the_lower_middle_of_an_even_count() -> None:
    runs = [(3, "c"), (1, "a"), (2, "b")]
    assert median_of(runs, key=lambda run: run[0]) == (2, "b")
    assert median_of(runs[:2], key=lambda run: run[0]) == (1, "a")
    assert median_of([(5, "only")], key=lambda run: run[0]) == (5, "only")
    with pytest.raises(ValueError, match="median of nothing"):
        median_of([], key=lambda run: run)
