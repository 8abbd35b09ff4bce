"""The decode stage: record bytes to validated events, or dead letters.

Each event is read in the version its producer sent, then mapped onto the version the
pipeline's writer takes (``StreamTypes.current``). Unknown fields of a valid event are
ignored; they are counted per wire type and named once in the log.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from consumer.batching import Batch
from consumer.coordinates import KafkaMessage, Record
from consumer.errors import one_line
from consumer.outcomes import DeadLetter, Decoded
from consumer.unknown_fields import UNKNOWN_FIELD_LOG
from schemas.codec import (
    EventRejected,
    InvalidEvent,
    Rejection,
    decode,
    describe_validation_error,
    may_hold_non_json_numbers,
)
from schemas.extras import unknown_fields
from schemas.registry import StreamTypes

DECODE_SLICE = 256
"""Records decoded between two yields to the event loop, so a write in flight is not
kept waiting on its database replies for more than a millisecond or two."""


def _read(accepts: StreamTypes, event: Any, unknown: Counter[str] | None) -> Any:
    """The event as the writer takes it; its unknown fields noted and counted."""
    names = unknown_fields(event)
    if names:
        UNKNOWN_FIELD_LOG.note(event.type, names)
        if unknown is not None:
            unknown[event.type] += len(names)
    try:
        return accepts.current(event)
    except ValidationError as exc:
        raise InvalidEvent(
            f"{event.type} does not map onto its current version: "
            + describe_validation_error(exc),
            reason=Rejection.CONTRACT_VIOLATION,
        ) from exc


def _validated(value: bytes | None, accepts: StreamTypes, max_event_bytes: int) -> Any:
    """The usual event straight from the core validator; anything else through
    ``schemas.decode``, which says why it is refused."""
    if value is not None and len(value) <= max_event_bytes and not may_hold_non_json_numbers(value):
        try:
            return accepts.adapter.validator.validate_json(value)
        except ValueError:
            pass
    return decode(value, accepts.adapter, max_bytes=max_event_bytes)


def decode_records(
    records: Iterable[KafkaMessage],
    accepts: StreamTypes,
    max_event_bytes: int,
    unknown: Counter[str] | None = None,
) -> tuple[list[Decoded], list[DeadLetter]]:
    """Split records into valid events and dead letters (stage ``decode`` or ``validate``).

    ``unknown``, when given, gains the number of unknown fields per event type."""
    decoded: list[Decoded] = []
    dead: list[DeadLetter] = []
    for record in records:
        try:
            event = _read(accepts, _validated(record.value, accepts, max_event_bytes), unknown)
        except EventRejected as exc:
            dead.append(DeadLetter(Record.of(record), exc.stage, exc.reason, one_line(str(exc))))
        else:
            decoded.append(Decoded(record, event))
    return decoded, dead


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """A batch with its records decoded: the valid events, the dead letters, and the
    number of unknown fields ignored per event type."""

    batch: Batch
    decoded: list[Decoded]
    dead: list[DeadLetter]
    unknown_fields: Counter[str] = field(default_factory=Counter)


def decode_batch(batch: Batch, accepts: StreamTypes, max_event_bytes: int) -> DecodedBatch:
    unknown: Counter[str] = Counter()
    decoded, dead = decode_records(batch.records, accepts, max_event_bytes, unknown)
    return DecodedBatch(batch, decoded, dead, unknown)


async def decode_batch_yielding(
    batch: Batch, accepts: StreamTypes, max_event_bytes: int
) -> DecodedBatch:
    """``decode_batch``, yielding to the event loop every ``DECODE_SLICE`` records."""
    records = batch.records
    decoded: list[Decoded] = []
    dead: list[DeadLetter] = []
    unknown: Counter[str] = Counter()
    for start in range(0, len(records), DECODE_SLICE):
        part = records[start : start + DECODE_SLICE]
        good, bad = decode_records(part, accepts, max_event_bytes, unknown)
        decoded += good
        dead += bad
        await asyncio.sleep(0)
    return DecodedBatch(batch, decoded, dead, unknown)
