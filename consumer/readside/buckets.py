"""Splitting an aggregate's range into whole buckets (rollups) and partial edges (raw)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from consumer.readside.models import Interval

WIDTH = {Interval.HOUR: timedelta(hours=1), Interval.DAY: timedelta(days=1)}


@dataclass(frozen=True, slots=True)
class Segment:
    """``[start, end)``: whole buckets read from the rollup, or one partial bucket's samples."""

    start: datetime
    end: datetime
    whole: bool
    bucket: datetime
    """The (UTC) start of the bucket the segment begins in."""


def floor(moment: datetime, interval: Interval) -> datetime:
    """The start (UTC) of the bucket holding ``moment``."""
    utc = moment.astimezone(UTC)
    if interval is Interval.HOUR:
        return utc.replace(minute=0, second=0, microsecond=0)
    return utc.replace(hour=0, minute=0, second=0, microsecond=0)


def ceil(moment: datetime, interval: Interval) -> datetime:
    """The first bucket start at or after ``moment``."""
    low = floor(moment, interval)
    return low if low == moment else low + WIDTH[interval]


def bucket_count(start: datetime, end: datetime, interval: Interval) -> int:
    """How many buckets ``[start, end)`` touches."""
    if end <= start:
        return 0
    return (ceil(end, interval) - floor(start, interval)) // WIDTH[interval]


def segments(start: datetime, end: datetime, interval: Interval) -> list[Segment]:
    """The parts of ``[start, end)``: a partial head, whole buckets, a partial tail."""
    if end <= start:
        return []
    first_whole, last_whole = ceil(start, interval), floor(end, interval)
    head = floor(start, interval)
    if first_whole > last_whole:
        return [Segment(start, end, False, head)]
    parts = []
    if start < first_whole:
        parts.append(Segment(start, first_whole, False, head))
    if first_whole < last_whole:
        parts.append(Segment(first_whole, last_whole, True, first_whole))
    if last_whole < end:
        parts.append(Segment(last_whole, end, False, last_whole))
    return parts


def answerable(parts: list[Segment], raw_since: datetime) -> tuple[list[Segment], list[datetime]]:
    """The segments that can be answered, and the buckets withheld: a partial bucket is
    summed from raw samples, so one that starts before ``raw_since`` (the raw retention)
    cannot be, and returning what is left of it would pass a part off as the whole.
    Whole buckets come from the rollups, which outlive the raw samples."""
    kept = [part for part in parts if part.whole or part.start >= raw_since]
    withheld = [part.bucket for part in parts if not part.whole and part.start < raw_since]
    return kept, withheld
