"""The hot path's decoder (msgspec first) gives what ``schemas.codec.decode`` gives alone.

Events are generated as JSON text written field by field (``tests.support.wire_events``).
For each one, the consumer's decode stage
(``consumer.decoding.decode_records``) and ``schemas.struct_codec.decode_fast`` must
agree with the pydantic decoder alone: the same event (same fields and values, times in
``datetime.timezone.utc``, the same unknown fields counted), or the same stage, class
and message.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer.coordinates import Record, RecordId
from consumer.decoding import decode_records
from consumer.errors import one_line
from schemas.codec import EventRejected, decode
from schemas.extras import unknown_fields
from schemas.registry import REGISTRY
from schemas.streams import Stream
from schemas.struct_codec import decode_fast, struct_decoder
from tests.support.wire_events import any_json, events

MAX_BYTES = 1_048_576
RUNS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- comparing outcomes ----------------------------------------------------------------


def fields_of(value: Any) -> Any:
    """An event's fields and values, recursively, in a form that compares exactly."""
    names = getattr(type(value), "__struct_fields__", None) or getattr(
        type(value), "model_fields", None
    )
    if names is not None:
        found = {name: fields_of(getattr(value, name)) for name in names}
        return found | {"type": value.type} if hasattr(value, "type") else found
    if isinstance(value, datetime):
        assert value.tzinfo is UTC, f"{value!r} is not in datetime.timezone.utc"
        return value.isoformat()
    if isinstance(value, float):
        return math.copysign(1, value), repr(value)
    if isinstance(value, list):
        return [fields_of(item) for item in value]
    return value


def reference(value: bytes, stream: Stream) -> tuple[Any, ...]:
    try:
        event = decode(value, REGISTRY.accepts(stream).adapter, max_bytes=MAX_BYTES)
    except EventRejected as exc:
        return ("refused", exc.stage, str(exc.reason), one_line(str(exc)))
    return ("event", fields_of(event), len(unknown_fields(event)))


def through_decode_stage(value: bytes, stream: Stream) -> tuple[Any, ...]:
    unknown: Counter[str] = Counter()
    record = Record(RecordId("t", 0, 0), b"k", value, (), 0)
    decoded, dead = decode_records([record], REGISTRY.accepts(stream), MAX_BYTES, unknown)
    if dead:
        return ("refused", dead[0].stage, dead[0].error_class, dead[0].message)
    return ("event", fields_of(decoded[0].event), sum(unknown.values()))


def through_decode_fast(value: bytes, stream: Stream) -> tuple[Any, ...]:
    try:
        event = decode_fast(value, REGISTRY.accepts(stream), max_bytes=MAX_BYTES)
    except EventRejected as exc:
        return ("refused", exc.stage, str(exc.reason), one_line(str(exc)))
    unknown = 0 if hasattr(type(event), "__struct_fields__") else len(unknown_fields(event))
    return ("event", fields_of(event), unknown)


def assert_agrees(value: bytes, stream: Stream) -> None:
    expected = reference(value, stream)
    assert through_decode_stage(value, stream) == expected
    assert through_decode_fast(value, stream) == expected


# ---- the properties ----------------------------------------------------------------------


@pytest.mark.parametrize("stream", list(Stream))
@RUNS
@given(data=st.data())
def test_the_fast_decoder_agrees_with_pydantic(stream: Stream, data: st.DataObject) -> None:
    assert_agrees(data.draw(events(stream)), stream)


def batch_through_decode_stage(values: list[bytes], stream: Stream) -> list[tuple[Any, ...]]:
    """Each value's outcome when ``values`` are decoded together, as one batch."""
    records = [Record(RecordId("t", 0, n), b"k", v, (), 0) for n, v in enumerate(values)]
    decoded, dead = decode_records(records, REGISTRY.accepts(stream), MAX_BYTES, Counter())
    outcomes: dict[int, tuple[Any, ...]] = {
        d.record.offset: ("event", fields_of(d.event)) for d in decoded
    }
    outcomes |= {d.record.id.offset: ("refused", d.stage, d.error_class, d.message) for d in dead}
    return [outcomes[n] for n in range(len(values))]


@pytest.mark.parametrize("stream", list(Stream))
@RUNS
@given(data=st.data())
def test_a_batch_agrees_with_its_events_one_by_one(stream: Stream, data: st.DataObject) -> None:
    """Decoded together (msgspec reads a batch at once when it reads all of it), each
    record of a batch gets what ``schemas.codec.decode`` gives it alone."""
    values = data.draw(st.lists(events(stream), min_size=1, max_size=5))
    expected = [reference(value, stream) for value in values]
    expected = [outcome[:2] if outcome[0] == "event" else outcome for outcome in expected]
    assert batch_through_decode_stage(values, stream) == expected


@RUNS
@given(value=st.one_of(st.binary(max_size=40), any_json.map(str.encode)))
def test_any_bytes_get_the_same_verdict(value: bytes) -> None:
    assert_agrees(value, Stream.METRICS)


@pytest.mark.parametrize("stream", list(Stream))
def test_the_usual_event_is_read_by_msgspec(stream: Stream) -> None:
    """Without this the properties above would hold with every record left to pydantic."""
    from consumer.bench.decode_cost import workload_records

    reader = struct_decoder(REGISTRY.accepts(stream))
    values = [record.value for record in workload_records(stream, 200)]
    assert all(value is not None and reader.read(value) is not None for value in values)
    assert reader.read_all([v for v in values if v is not None], MAX_BYTES) is not None


MIDNIGHT = '{"specversion":"1.0","id":"%s","source":"/s","type":"utxoiq.system.metric.recorded",'
MIDNIGHT += '"time":"%s","data":{"service_name":"a","metric_type":"b","value":1,"unit":"u"}}'


@pytest.mark.parametrize(
    "time",
    [
        "2026-01-01T00:00:00.1234567Z",  # msgspec would round, pydantic truncates
        "2026-01-01T00:00:00.9999999+02:00",
        "0001-01-01T00:00:00+14:00",  # before the year 1 in UTC
        "9999-12-31T23:59:59-12:00",  # after the year 9999 in UTC
        "2026-06-01T12:00:00+05:30",
    ],
)
@pytest.mark.parametrize("uuid_text", [str(uuid.uuid4()), uuid.uuid4().hex])
def test_edges_of_time_agree(time: str, uuid_text: str) -> None:
    assert_agrees((MIDNIGHT % (uuid_text, time)).encode(), Stream.METRICS)


@pytest.mark.parametrize(
    "time",
    [
        "2026-01-01T00:00:00.1234567Z",
        "2026-01-01T00:00:00.9999999+02:00",
        "9999-12-31T23:59:59-12:00",
        "2026-06-01T12:00:00+05:30",
        "2026-06-01T12:00:00",
        "2026-06-01T12:00:00.5z",
        "2026-06-01 12:00:00Z",
    ],
)
def test_a_time_among_others_is_read_as_alone(time: str) -> None:
    """Times are parsed a batch at once; one that needs more (an offset, a seventh digit)
    gets what it gets alone, and so do the others."""
    usual = MIDNIGHT % (uuid.uuid4(), "2026-06-01T12:00:00.123456Z")
    values = [usual.encode(), (MIDNIGHT % (uuid.uuid4(), time)).encode(), usual.encode()]
    expected = [reference(value, Stream.METRICS) for value in values]
    expected = [outcome[:2] if outcome[0] == "event" else outcome for outcome in expected]
    assert batch_through_decode_stage(values, Stream.METRICS) == expected


@pytest.mark.parametrize("fraction", ["1234567", "123456789", "123456789012"])
def test_a_fraction_beyond_the_microsecond_is_cut_by_msgspec_as_by_pydantic(fraction: str) -> None:
    """Producers that write seven to nine digits (.NET, Java) stay on the fast path."""
    value = (MIDNIGHT % (uuid.uuid4(), f"2026-01-01T00:00:00.{fraction}Z")).encode()
    reader = struct_decoder(REGISTRY.accepts(Stream.METRICS))
    event = reader.read(value)
    assert event is not None and event.time == datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert reader.read_all([value, value], MAX_BYTES) is not None
    assert_agrees(value, Stream.METRICS)


def test_a_time_with_an_offset_is_read_in_utc() -> None:
    value = (MIDNIGHT % (uuid.uuid4(), "2026-06-01T12:00:00+05:30")).encode()
    event = struct_decoder(REGISTRY.accepts(Stream.METRICS)).read(value)
    assert event is not None
    assert event.time == datetime(2026, 6, 1, 6, 30, tzinfo=UTC) and event.time.tzinfo is UTC


@pytest.mark.parametrize("inside", [b"\x00", b"\x1f", b"\n", b"\\u0000", b"\\u001f", b"\\\\u0000"])
def test_control_characters_in_text_agree(inside: bytes) -> None:
    value = (MIDNIGHT % (uuid.uuid4(), "2026-06-01T12:00:00Z")).encode()
    assert_agrees(value.replace(b'"/s"', b'"/s' + inside + b'"'), Stream.METRICS)
