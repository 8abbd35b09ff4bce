"""Building decoded records without a broker, for tests of the pure stages."""

from __future__ import annotations

from typing import Any

from consumer.coordinates import Record, RecordId
from consumer.outcomes import Decoded
from schemas import decode
from tests.support.events import key_of, to_bytes


def record(
    event: dict[str, Any] | bytes,
    offset: int = 0,
    partition: int = 0,
    topic: str = "t",
    headers: tuple[tuple[str, bytes | None], ...] = (),
) -> Record:
    value = event if isinstance(event, bytes) else to_bytes(event)
    key = b"k" if isinstance(event, bytes) else key_of(event)
    return Record(RecordId(topic, partition, offset), key, value, headers, 1_700_000_000_000)


def decoded(events: list[dict[str, Any]]) -> list[Decoded]:
    return [Decoded(record(e, offset=i), decode(to_bytes(e))) for i, e in enumerate(events)]
