"""The decode stage: record bytes to validated events, or dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from consumer.batching import Batch
from consumer.coordinates import KafkaMessage, Record
from consumer.errors import one_line
from consumer.outcomes import DeadLetter, Decoded
from schemas.codec import EventRejected, decode

DECODE_SLICE = 256
"""Records decoded between two yields to the event loop, so a write in flight is not
kept waiting on its database replies for more than a millisecond or two."""


def decode_records(
    records: Iterable[KafkaMessage], adapter: TypeAdapter[Any], max_event_bytes: int
) -> tuple[list[Decoded], list[DeadLetter]]:
    """Split records into valid events and dead letters (stage ``decode`` or ``validate``)."""
    decoded: list[Decoded] = []
    dead: list[DeadLetter] = []
    validate = adapter.validator.validate_json  # the core validator: no wrapper per call
    for record in records:
        value = record.value
        if value is not None and len(value) <= max_event_bytes:
            try:
                decoded.append(Decoded(record, validate(value)))
                continue
            except ValueError:
                pass
        try:
            event = decode(value, adapter, max_bytes=max_event_bytes)
        except EventRejected as exc:
            dead.append(DeadLetter(Record.of(record), exc.stage, exc.reason, one_line(str(exc))))
        else:
            decoded.append(Decoded(record, event))
    return decoded, dead


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """A batch with its records decoded: the valid events and the dead letters."""

    batch: Batch
    decoded: list[Decoded]
    dead: list[DeadLetter]


def decode_batch(batch: Batch, adapter: TypeAdapter[Any], max_event_bytes: int) -> DecodedBatch:
    decoded, dead = decode_records(batch.records, adapter, max_event_bytes)
    return DecodedBatch(batch, decoded, dead)


async def decode_batch_yielding(
    batch: Batch, adapter: TypeAdapter[Any], max_event_bytes: int
) -> DecodedBatch:
    """``decode_batch``, yielding to the event loop every ``DECODE_SLICE`` records."""
    records = batch.records
    decoded: list[Decoded] = []
    dead: list[DeadLetter] = []
    for start in range(0, len(records), DECODE_SLICE):
        good, bad = decode_records(records[start : start + DECODE_SLICE], adapter, max_event_bytes)
        decoded += good
        dead += bad
        await asyncio.sleep(0)
    return DecodedBatch(batch, decoded, dead)
