"""The daily partitions of ``system_metrics``: their names, and which to make or drop.

Pure planning, no I/O: ``consumer.metrics.maintain`` reads the partitions that exist and
carries the plan out. A day's partition holds the samples recorded in ``[day, day + 1)``
UTC and is named ``system_metrics_pYYYYMMDD``; samples of a day without one wait in
``system_metrics_default`` until it is made.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from consumer.metrics.window import SampleWindow

PARENT = "system_metrics"
DEFAULT_PARTITION = f"{PARENT}_default"
PREFIX = f"{PARENT}_p"
DAY = timedelta(days=1)


def partition_name(day: date) -> str:
    return f"{PREFIX}{day:%Y%m%d}"


def day_of(name: str) -> date | None:
    """The day a partition's name stands for; None for any other table."""
    digits = name.removeprefix(PREFIX)
    if digits == name or len(digits) != 8 or not digits.isdigit():
        return None
    try:
        return datetime.strptime(digits, "%Y%m%d").date()
    except ValueError:
        return None


def is_partition(name: str) -> bool:
    """True for ``system_metrics``' day partitions and its default partition."""
    return name == DEFAULT_PARTITION or day_of(name) is not None


def modelled(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name``: comparing the database with the models skips the
    partitions, which are made at run time, not by migrations."""
    return not (type_ == "table" and name is not None and is_partition(name))


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``: a partition's lower bound."""
    return datetime.combine(day, time(), UTC)


@dataclass(frozen=True, slots=True)
class PartitionPlan:
    """The days whose partitions are to be made and those to be dropped, oldest first."""

    create: list[date]
    drop: list[date]


def wanted_days(window: SampleWindow, now: datetime) -> list[date]:
    """Every day from the oldest kept sample's to the future horizon's, both included."""
    first = window.oldest_kept(now).astimezone(UTC).date()
    last = (now + window.horizon).astimezone(UTC).date()
    return [first + DAY * n for n in range((last - first).days + 1)]


def expired(day: date, window: SampleWindow, now: datetime) -> bool:
    """True when every sample a day's partition can hold is older than the retention."""
    return day_start(day) + DAY <= window.oldest_kept(now)


def plan(existing: Iterable[date], window: SampleWindow, now: datetime) -> PartitionPlan:
    """Make the missing days of the window; drop the days wholly past the retention."""
    have = set(existing)
    return PartitionPlan(
        create=[day for day in wanted_days(window, now) if day not in have],
        drop=sorted(day for day in have if expired(day, window, now)),
    )


def days_ahead(existing: Iterable[date], now: datetime) -> float:
    """How long, in days, until samples stop finding a partition of their day: from
    ``now`` to the end of the unbroken run of days that starts with today's (0 when
    today has none). The alert watches this fall below the horizon."""
    have = set(existing)
    day = now.astimezone(UTC).date()
    if day not in have:
        return 0.0
    while day + DAY in have:
        day += DAY
    return (day_start(day) + DAY - now) / DAY
