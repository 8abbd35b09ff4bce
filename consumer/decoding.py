"""The decode stage: record bytes to validated events, or dead letters.

Each record is read first by msgspec into the ``Struct`` derived from its event type
(``schemas.struct_codec``); a record msgspec does not vouch for is decoded by
``schemas.codec.decode``, whose verdict and message are the ones used. That event is read
in the version its producer sent, then mapped onto the version the pipeline's writer
takes (``StreamTypes.current``). Unknown fields of a valid event are ignored; they are
counted per wire type and named once in the log.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import operator
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from consumer.batching import Batch
from consumer.coordinates import KafkaMessage, Record, TopicPartition
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
    refuse_non_json_numbers,
)
from schemas.extras import unknown_fields
from schemas.registry import StreamTypes
from schemas.struct_codec import struct_decoder

DECODE_SLICE = 256
"""Records decoded between two yields to the event loop, so a write in flight is not
kept waiting on its database replies for more than a millisecond or two. Decoding a
whole batch at once instead, p99 event age at half rate was 614 ms for metrics against
127-340 ms, and 700 ms for jobs against 96-296 ms (``utxoiq bench --repeat 3``, one run
without against three with, interleaved; CPU per event unchanged)."""


def _read(
    accepts: StreamTypes, event: Any, value: bytes | None, unknown: Counter[str] | None
) -> Any:
    """The validated event as the writer takes it, its unknown fields noted and counted.

    The validator's JSON parser takes the ``NaN`` and ``Infinity`` tokens, which are not
    JSON. Every float the models know must be finite, so a valid event can hold them only
    in an unknown field: the bytes of an event with unknown fields are checked for them."""
    names = unknown_fields(event)
    if names:
        if value is not None and may_hold_non_json_numbers(value):
            refuse_non_json_numbers(value)
        UNKNOWN_FIELD_LOG.note(event.type, names)
        if unknown is not None:
            unknown[event.type] += len(names)
    if not accepts.upgrades:
        return event
    try:
        return accepts.current(event)
    except ValidationError as exc:
        raise InvalidEvent(
            f"{event.type} does not map onto its current version: "
            + describe_validation_error(exc),
            reason=Rejection.CONTRACT_VIOLATION,
        ) from exc


_VALUE = operator.attrgetter("value")
_DECODED = functools.partial(tuple.__new__, Decoded)
"""``Decoded`` from a (record, event) pair in one C call: a ``NamedTuple``'s own
``__new__`` is Python code, twice the cost."""


def decode_records(
    records: Iterable[KafkaMessage],
    accepts: StreamTypes,
    max_event_bytes: int,
    unknown: Counter[str] | None = None,
) -> tuple[list[Decoded], list[DeadLetter]]:
    """Split records into valid events and dead letters (stage ``decode`` or ``validate``).

    The usual record is read by msgspec (a ``Struct`` has no unknown fields and needs no
    upgrade): all of ``records`` at once when msgspec reads every one of them
    (``StructDecoder.read_all``), else one by one; any record msgspec does not read goes
    through ``schemas.decode``, which says why it is refused.
    ``unknown``, when given, gains the number of unknown fields per event type."""
    records = records if isinstance(records, list) else list(records)
    reader = struct_decoder(accepts)
    events = reader.read_all(list(map(_VALUE, records)), max_event_bytes)
    if events is not None:
        return list(map(_DECODED, zip(records, events, strict=True))), []
    decoded: list[Decoded] = []
    dead: list[DeadLetter] = []
    read = reader.read
    new = tuple.__new__
    for record in records:
        value = record.value
        event = read(value) if value is not None and len(value) <= max_event_bytes else None
        if event is not None:
            decoded.append(new(Decoded, (record, event)))
            continue
        try:
            event = decode(value, accepts.adapter, max_bytes=max_event_bytes)
            decoded.append(Decoded(record, _read(accepts, event, value, unknown)))
        except EventRejected as exc:
            dead.append(DeadLetter(Record.of(record), exc.stage, exc.reason, one_line(str(exc))))
    return decoded, dead


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """A batch with its records decoded: the valid events, the dead letters, and the
    number of unknown fields ignored per event type."""

    batch: Batch
    decoded: list[Decoded]
    dead: list[DeadLetter]
    unknown_fields: Counter[str] = field(default_factory=Counter)

    def owned(self, positions: Mapping[TopicPartition, int | None]) -> DecodedBatch:
        """The part still owned after a rebalance (``Batch.owned``), trimmed from what
        was decoded, never decoded again; itself, unchanged, in the usual case. The
        unknown-field counts stay those of the whole batch."""
        batch = self.batch.owned(positions)
        if batch is self.batch:
            return self
        kept = {tp: records[0].offset for tp, records in batch.parts.items()}

        def keeps(topic: str, partition: int, offset: int) -> bool:
            first = kept.get(TopicPartition(topic, partition))
            return first is not None and offset >= first

        decoded = [
            d for d in self.decoded if keeps(d.record.topic, d.record.partition, d.record.offset)
        ]
        dead = [d for d in self.dead if keeps(*d.record.id)]
        return DecodedBatch(batch, decoded, dead, self.unknown_fields)


def decode_batch(batch: Batch, accepts: StreamTypes, max_event_bytes: int) -> DecodedBatch:
    unknown: Counter[str] = Counter()
    decoded, dead = decode_records(batch, accepts, max_event_bytes, unknown)
    return DecodedBatch(batch, decoded, dead, unknown)


def decode_slices(batch: Batch) -> Iterator[Iterator[KafkaMessage]]:
    """The batch's records in runs of ``DECODE_SLICE``, read off its partitions' lists
    without a copy. Each run must be read to its end before the next is taken."""
    records = iter(batch)
    for _ in range(0, len(batch), DECODE_SLICE):
        yield itertools.islice(records, DECODE_SLICE)


async def decode_batch_yielding(
    batch: Batch, accepts: StreamTypes, max_event_bytes: int
) -> DecodedBatch:
    """``decode_batch``, yielding to the event loop every ``DECODE_SLICE`` records."""
    decoded: list[Decoded] = []
    dead: list[DeadLetter] = []
    unknown: Counter[str] = Counter()
    for part in decode_slices(batch):
        good, bad = decode_records(part, accepts, max_event_bytes, unknown)
        decoded += good
        dead += bad
        await asyncio.sleep(0)
    return DecodedBatch(batch, decoded, dead, unknown)
