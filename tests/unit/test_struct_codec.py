"""The hot path's decoder (msgspec first) gives what ``schemas.codec.decode`` gives alone.

Events are generated as JSON text written field by field, so that a value can be any
JSON (or the ``NaN``/``Infinity`` tokens, which are not), a key can come twice, and a
field can be missing or unknown. For each one, the consumer's decode stage
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

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer.coordinates import Record, RecordId
from consumer.decoding import decode_records
from consumer.errors import one_line
from schemas.codec import EventRejected, decode
from schemas.events import FEEDBACK_FLAGS, INT64_MAX, MAX_COMMENT, MAX_TEXT
from schemas.extras import unknown_fields
from schemas.registry import REGISTRY
from schemas.streams import Stream
from schemas.struct_codec import decode_fast, struct_decoder

MAX_BYTES = 1_048_576
RUNS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# ---- JSON fragments -------------------------------------------------------------------


def text(value: str) -> str:
    return orjson.dumps(value).decode()


def obj(pairs: list[tuple[str, str]]) -> str:
    """A JSON object from (key, JSON text) pairs: keys may repeat."""
    return "{" + ",".join(f"{text(k)}:{v}" for k, v in pairs) + "}"


chars = st.characters(codec="utf-8", exclude_categories=["Cs"])
short_text = st.one_of(
    st.text(chars, max_size=12),
    st.sampled_from(["", "a\x00b", "\x00", "😀" * MAX_TEXT, "😀" * (MAX_TEXT + 1), "a\\u0000"]),
    st.integers(MAX_TEXT - 1, MAX_TEXT + 1).map(lambda n: "é" * n),
).map(text)
comment_text = st.one_of(
    short_text,
    st.just("null"),
    st.integers(MAX_COMMENT - 1, MAX_COMMENT + 1).map(lambda n: text("\U0001f4a1" * n)),
)
finite_floats = st.floats(allow_nan=False, allow_infinity=False).map(repr)
numbers = st.one_of(
    finite_floats,
    st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400", "1e-400", "-0", "1E+2"]),
    st.sampled_from([0, 1, -1, INT64_MAX, INT64_MAX + 1, -INT64_MAX, -INT64_MAX - 1]).map(str),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(['"1"', "true", "null", "[]"]),
)
integers = st.one_of(
    st.integers(-5, 10).map(str),
    st.sampled_from([INT64_MAX - 1, INT64_MAX, INT64_MAX + 1, -INT64_MAX, -INT64_MAX - 1]).map(str),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["1.0", "2e0", '"3"', "true", "null", "NaN"]),
)


@st.composite
def uuids(draw: st.DrawFn) -> str:
    value = draw(st.uuids())
    spelling = draw(st.sampled_from(["canonical", "hex", "upper", "braces", "urn", "broken"]))
    spelled = {
        "canonical": str(value),
        "hex": value.hex,
        "upper": str(value).upper(),
        "braces": "{" + str(value) + "}",
        "urn": value.urn,
        "broken": str(value)[:-1] + "g",
    }[spelling]
    return text(spelled)


@st.composite
def times(draw: st.DrawFn) -> str:
    moment = draw(
        st.one_of(
            st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
            st.datetimes(max_value=datetime(1, 1, 2)),
            st.datetimes(min_value=datetime(9999, 12, 31)),
        )
    )
    digits = draw(st.integers(0, 12))
    fraction = (
        "."
        + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=digits, max_size=digits)))
        if digits
        else ""
    )
    offset = draw(
        st.one_of(
            st.sampled_from(["Z", "z", "+00:00", "-00:00", "", "+0200", "+14:00", "-12:00"]),
            st.integers(-23 * 60 - 59, 23 * 60 + 59).map(
                lambda m: f"{'-' if m < 0 else '+'}{abs(m) // 60:02d}:{abs(m) % 60:02d}"
            ),
        )
    )
    separator = draw(st.sampled_from(["T", "T", "t", " "]))
    clock = moment.strftime("%H:%M:%S") if draw(st.booleans()) else moment.strftime("%H:%M")
    return text(f"{moment.year:04d}-{moment:%m-%d}{separator}{clock}{fraction}{offset}")


usual_times = st.tuples(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from(["Z", "+00:00", "+02:00", "-05:30"]),
).map(lambda t: text(t[0].isoformat() + t[1]))

any_json = st.one_of(short_text, numbers, st.just("{}"), st.just('{"a":[1,{"b":null}]}'))

FIELDS: dict[str, st.SearchStrategy[str]] = {
    "job_id": uuids(),
    "job_type": short_text,
    "start_block": integers,
    "end_block": integers,
    "created_by": short_text,
    "sequence": integers,
    "current_block": integers,
    "error_message": short_text,
    "insight_id": short_text,
    "user_id": short_text,
    "rating": integers,
    "comment": comment_text,
    "flags": st.lists(st.sampled_from([*FEEDBACK_FLAGS, "other", "bogus"]), max_size=7).map(
        lambda flags: orjson.dumps(flags).decode()
    ),
    "service_name": short_text,
    "metric_type": short_text,
    "value": numbers,
    "unit": short_text,
}
DATA = {
    "utxoiq.backfill.job.created": (
        "job_id", "job_type", "start_block", "end_block", "created_by", "sequence"
    ),
    "utxoiq.backfill.job.progress": ("job_id", "current_block", "sequence"),
    "utxoiq.backfill.job.completed": ("job_id", "sequence"),
    "utxoiq.backfill.job.failed": ("job_id", "error_message", "sequence"),
    "utxoiq.insight.feedback.submitted": (
        "insight_id", "user_id", "rating", "comment", "flags"
    ),
    "utxoiq.system.metric.recorded": ("service_name", "metric_type", "value", "unit"),
}  # fmt: skip
VALID_VALUES = {
    "job_id": st.uuids().map(lambda u: text(str(u))),
    "job_type": st.sampled_from(['"blocks"', '"fees"']),
    "start_block": st.integers(0, 120).map(str),
    "end_block": st.integers(80, 200).map(str),
    "sequence": st.integers(0, INT64_MAX).map(str),
    "current_block": st.integers(0, 200).map(str),
    "rating": st.integers(1, 5).map(str),
    "comment": st.one_of(st.just("null"), st.text(chars, max_size=20).map(text)),
    "flags": st.lists(st.sampled_from(FEEDBACK_FLAGS), unique=True).map(
        lambda flags: orjson.dumps(flags).decode()
    ),
    "value": finite_floats,
}


def _valid(field: str) -> st.SearchStrategy[str]:
    return VALID_VALUES.get(
        field, st.text(chars.filter(lambda c: c != "\x00"), max_size=20).map(text)
    )


@st.composite
def pairs_with_changes(
    draw: st.DrawFn, fields: dict[str, st.SearchStrategy[str]], wild: dict[str, Any]
) -> list[tuple[str, str]]:
    """Valid pairs, then at most a few changes: a value from anywhere, a key dropped,
    repeated (with another value first or after), or an unknown one added."""
    pairs = [(name, draw(strategy)) for name, strategy in fields.items()]
    for _ in range(draw(st.integers(0, 3))):
        change = draw(st.sampled_from(["value", "drop", "repeat", "unknown"]))
        if change == "unknown":
            at = draw(st.integers(0, len(pairs)))
            pairs.insert(
                at, (draw(st.sampled_from(["region", "x", "traceparent"])), draw(any_json))
            )
        elif pairs:
            at = draw(st.integers(0, len(pairs) - 1))
            name = pairs[at][0]
            other = draw(wild.get(name, any_json))
            if change == "value":
                pairs[at] = (name, other)
            elif change == "drop":
                del pairs[at]
            else:
                pairs.insert(draw(st.integers(0, len(pairs))), (name, other))
    return pairs


ENVELOPE_WILD = {
    "specversion": st.sampled_from(['"1.0"', '"1.1"', "1.0", "null"]),
    "id": uuids(),
    "source": short_text,
    "type": st.sampled_from([text(t) for t in DATA] + ['"utxoiq.unknown"', "1"]),
    "time": times(),
    "datacontenttype": st.one_of(short_text, st.just("null")),
    "dataschema": any_json,
}


@st.composite
def events(draw: st.DrawFn, stream: Stream) -> bytes:
    event_type = draw(st.sampled_from(REGISTRY.accepts(stream).types))
    data_fields = {name: _valid(name) for name in DATA[event_type]}
    data = obj(draw(pairs_with_changes(data_fields, FIELDS)))
    if draw(st.integers(0, 20)) == 0:
        data = draw(any_json)
    envelope = {
        "specversion": st.just('"1.0"'),
        "id": st.uuids().map(lambda u: text(str(u))),
        "source": st.just('"/utxoiq/test"'),
        "type": st.just(text(event_type)),
        "time": usual_times,
        "datacontenttype": st.just('"application/json"'),
    }
    pairs = draw(pairs_with_changes(envelope, ENVELOPE_WILD))
    pairs.insert(draw(st.integers(0, len(pairs))), ("data", data))
    return obj(pairs).encode()


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
