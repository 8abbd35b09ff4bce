"""The arithmetic of the benchmark: rates, percentiles, commit latencies (pure functions)."""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SentSpan:
    """``count`` events written to ``partition`` from ``base_offset`` on, made at ``event_time``."""

    partition: int
    base_offset: int
    count: int
    event_time: float


@dataclass(frozen=True, slots=True)
class Observation:
    """At wall-clock ``at``, the stored position of a partition was seen at ``position``."""

    at: float
    position: int


Weighted = tuple[float, int]
"""A value and how many events had it."""


def rate(events: int, seconds: float) -> float:
    """Events per second; zero when no time passed."""
    return events / seconds if seconds > 0 else 0.0


def median_of(items: Sequence[T], key: Callable[[T], float]) -> T:
    """The middle item by ``key`` (of an even count, the lower of the two middle ones), so
    a figure quoted is one that was measured, with its companions (CPU, batches) intact."""
    if not items:
        raise ValueError("median of nothing")
    return sorted(items, key=key)[(len(items) - 1) // 2]


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-th percentile (0 < q <= 100) of unsorted ``values``."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(math.ceil(q / 100 * len(ordered)), 1)
    return ordered[rank - 1]


def weighted_percentile(pairs: Sequence[Weighted], q: float) -> float:
    """The nearest-rank ``q``-th percentile of values that each stand for ``count`` events."""
    ordered = sorted(p for p in pairs if p[1] > 0)
    total = sum(count for _, count in ordered)
    if total == 0:
        raise ValueError("no values")
    wanted = max(math.ceil(q / 100 * total), 1)
    seen = 0
    for value, count in ordered:
        seen += count
        if seen >= wanted:
            return value
    return ordered[-1][0]


def commit_latencies(
    spans: Sequence[SentSpan], seen: Mapping[int, Sequence[Observation]]
) -> tuple[list[Weighted], int]:
    """Per span, how long its events took to be committed, and how many never were.

    An event at offset ``o`` is committed at the first observation whose position is
    above ``o``; observations of one partition must be in time order.
    """
    latencies: list[Weighted] = []
    missing = 0
    for span in spans:
        observations = seen.get(span.partition, ())
        positions = [o.position for o in observations]
        offset, end = span.base_offset, span.base_offset + span.count
        while offset < end:
            index = bisect_right(positions, offset)
            if index == len(positions):
                missing += end - offset
                break
            upto = min(positions[index], end)
            latencies.append((observations[index].at - span.event_time, upto - offset))
            offset = upto
    return latencies, missing


def interpolate(samples: Sequence[tuple[float, float]], at: float) -> float:
    """The value of a sampled, time-ordered series at ``at`` (linear; clamped at the ends)."""
    if not samples:
        raise ValueError("no samples")
    times = [t for t, _ in samples]
    index = bisect_left(times, at)
    if index == 0:
        return samples[0][1]
    if index == len(samples):
        return samples[-1][1]
    (t0, v0), (t1, v1) = samples[index - 1], samples[index]
    return v0 if t1 == t0 else v0 + (v1 - v0) * (at - t0) / (t1 - t0)
