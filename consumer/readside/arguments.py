"""Checking query arguments before any statement is sent."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from consumer.readside.errors import InvalidQuery
from consumer.readside.models import Interval
from consumer.vocabulary import JobStatus

MAX_LIMIT = 1_000
JOB_STATUSES: tuple[JobStatus, ...] = tuple(JobStatus)


def check_limit(limit: int) -> int:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise InvalidQuery(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    return limit


def check_aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidQuery(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidQuery(f"{name} must carry a time zone (naive datetimes are ambiguous)")
    return value


def check_range(
    start: datetime | None, end: datetime | None, names: tuple[str, str] = ("start", "end")
) -> None:
    """Both bounds aware when given; the end not before the start."""
    if start is not None:
        check_aware(names[0], start)
    if end is not None:
        check_aware(names[1], end)
    if start is not None and end is not None and end < start:
        raise InvalidQuery(
            f"{names[1]} ({end.isoformat()}) is before {names[0]} ({start.isoformat()})"
        )


def check_interval(interval: Interval | str) -> Interval:
    try:
        return Interval(interval)
    except ValueError:
        known = ", ".join(i.value for i in Interval)
        raise InvalidQuery(f"interval must be one of {known}, got {interval!r}") from None


def check_status(status: str | None) -> JobStatus | None:
    if status is None:
        return None
    for known in JOB_STATUSES:
        if status == known:
            return known
    raise InvalidQuery(f"status must be one of {', '.join(JOB_STATUSES)}, got {status!r}")


def check_name(name: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidQuery(f"{name} must be a non-empty string")
    return value


def check_text(name: str, value: str | None) -> str | None:
    return None if value is None else check_name(name, value)


def check_uuid(name: str, value: UUID | str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise InvalidQuery(f"{name} is not a UUID: {value!r}") from None
