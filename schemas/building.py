"""Events built by the contract: a validated event from a type and its data, with a
time-ordered id, and ids given as text read the way the contract reads them.

Usable by producers alone: nothing here imports the ``consumer`` package.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from schemas.codec import EVENT_ADAPTER, InvalidEvent, Rejection, describe_validation_error
from schemas.events import AnyEvent
from schemas.registry import schema_id

DEFAULT_SOURCE = "/utxoiq/producer"


def time_ordered_uuid() -> UUID:
    """A version 7 UUID: millisecond timestamp first, so ids sort (and index) by time."""
    millis = time.time_ns() // 1_000_000 & (2**48 - 1)
    value = millis << 80 | int.from_bytes(os.urandom(10), "big")
    value = value & ~(0xF << 76) | 0x7 << 76
    value = value & ~(0x3 << 62) | 0x2 << 62
    return UUID(int=value)


def build_event(
    event_type: str,
    data: Mapping[str, Any],
    *,
    source: str = DEFAULT_SOURCE,
    at: datetime | None = None,
    event_id: UUID | None = None,
) -> AnyEvent:
    """A validated event of ``event_type``; raises ``InvalidEvent`` naming each bad field."""
    envelope = {
        "specversion": "1.0",
        "id": event_id or time_ordered_uuid(),
        "source": source,
        "type": event_type,
        "time": at or datetime.now(UTC),
        "datacontenttype": "application/json",
        "dataschema": schema_id(event_type),
        "data": dict(data),
    }
    try:
        event: AnyEvent = EVENT_ADAPTER.validate_python(envelope)
    except ValidationError as exc:
        raise InvalidEvent(
            describe_validation_error(exc), reason=Rejection.CONTRACT_VIOLATION
        ) from exc
    return event


def as_uuid(value: UUID | str) -> UUID:
    try:
        return value if isinstance(value, UUID) else UUID(value)
    except ValueError as exc:
        raise InvalidEvent(f"not a UUID: {value!r}", reason=Rejection.CONTRACT_VIOLATION) from exc
