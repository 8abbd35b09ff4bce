"""Parsing operator arguments: points in time, partition lists, record ids, pipelines
(pure)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from consumer.coordinates import RecordId
from schemas.topics import Stream

_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

TIME_FORMS = "ISO 8601 (UTC if no offset) or an age such as 30s, 15m, 2h, 7d, 1w"
"""What every time option of the CLI accepts, as its help text says it."""


def parse_when(text: str, now: datetime | None = None) -> datetime:
    """An ISO 8601 date or time (UTC when no offset is given), or ``30s``/``15m``/``2h``/
    ``7d``/``1w`` ago; raises ``ValueError`` with the accepted forms."""
    value = text.strip()
    relative = _RELATIVE.match(value)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        return (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"not a time: {text!r} (expected ISO 8601 such as 2026-11-01T12:00:00Z, "
            "or an age such as 30s, 15m, 2h, 7d)"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_partitions(text: str) -> list[int]:
    """``0,2`` or ``0-3`` or ``0,4-5``: sorted distinct partition numbers."""
    partitions: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        low, _, high = part.partition("-")
        try:
            first, last = int(low), int(high or low)
        except ValueError:
            raise ValueError(f"not a partition list: {text!r} (expected e.g. 0,2 or 0-3)") from None
        if first < 0 or last < first:
            raise ValueError(f"not a partition range: {part!r}")
        partitions.update(range(first, last + 1))
    return sorted(partitions)


def parse_record_id(text: str) -> RecordId:
    """``TOPIC:PARTITION:OFFSET`` with a non-negative partition and offset."""
    try:
        record = RecordId.parse(text)
    except ValueError:
        raise ValueError(f"expected TOPIC:PARTITION:OFFSET, got {text!r}") from None
    if record.partition < 0 or record.offset < 0:
        raise ValueError(f"partition and offset must not be negative: {text!r}")
    return record


def choose_pipelines(values: Sequence[str] | None, order: Sequence[Stream]) -> list[Stream]:
    """Pipelines named in ``values`` (each ``metrics`` or ``jobs,feedback``), in ``order``;
    all of ``order`` when none is named. ``ValueError`` names an unknown one."""
    chosen = set()
    for name in (n.strip().lower() for v in values or () for n in v.split(",")):
        if not name:
            continue
        try:
            chosen.add(Stream(name))
        except ValueError:
            known = ", ".join(s.value for s in order)
            raise ValueError(f"unknown pipeline {name!r} (one of {known})") from None
    return [s for s in order if s in chosen] or list(order)
