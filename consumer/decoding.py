"""The decode stage: record bytes to validated events, or dead letters."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import TypeAdapter

from consumer.coordinates import KafkaMessage, Record
from consumer.errors import one_line
from consumer.outcomes import DeadLetter, Decoded
from schemas.codec import EventRejected, decode


def decode_records(
    records: Iterable[KafkaMessage], adapter: TypeAdapter[Any], max_event_bytes: int
) -> tuple[list[Decoded], list[DeadLetter]]:
    """Split records into valid events and dead letters (stage ``decode`` or ``validate``)."""
    decoded: list[Decoded] = []
    dead: list[DeadLetter] = []
    for record in records:
        try:
            event = decode(record.value, adapter, max_bytes=max_event_bytes)
        except EventRejected as exc:
            dead.append(DeadLetter(Record.of(record), exc.stage, exc.reason, one_line(str(exc))))
        else:
            decoded.append(Decoded(record, event))
    return decoded, dead
