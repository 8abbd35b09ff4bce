"""Hypothesis strategies of wire events as JSON text, written field by field.

A value can be any JSON (or the ``NaN``/``Infinity`` tokens, which are not), a key can
come twice, and a field can be missing or unknown: the inputs on which the hot path's
decoder must agree with ``schemas.codec.decode`` (``tests/unit/test_struct_codec.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from hypothesis import strategies as st

from schemas.events import FEEDBACK_FLAGS, INT64_MAX, MAX_COMMENT, MAX_TEXT
from schemas.registry import REGISTRY
from schemas.streams import Stream


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
