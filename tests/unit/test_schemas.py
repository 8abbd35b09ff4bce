"""The event contract: every type accepts what ARCHITECTURE.md allows and refuses the rest."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from schemas import (
    CONTRACTS,
    EventRejected,
    FeedbackSubmitted,
    JobCreated,
    MetricRecorded,
    Stream,
    decode,
    encode,
    record_key,
)
from tests.support import events as ev

JOB = str(uuid.uuid4())

VALID = {
    "created": ev.job_created(JOB, start=10, end=20),
    "progress": ev.job_progress(JOB, 15, 1),
    "completed": ev.job_completed(JOB, 2),
    "failed": ev.job_failed(JOB, 3, "disk full"),
    "feedback": ev.feedback("ins-1", "user-1", 4, comment="great", flags=["spam", "other"]),
    "metric": ev.metric("api", "latency", 12.5),
}


def _with(event: dict[str, Any], **data: Any) -> bytes:
    return orjson.dumps({**event, "data": {**event["data"], **data}})


def _without(event: dict[str, Any], field: str) -> bytes:
    return orjson.dumps({**event, "data": {k: v for k, v in event["data"].items() if k != field}})


@pytest.mark.parametrize("name", sorted(VALID))
def test_each_valid_event_decodes_and_round_trips(name: str) -> None:
    event = decode(orjson.dumps(VALID[name]))
    assert str(event.id) == VALID[name]["id"]
    again = decode(encode(event))
    assert again == event


def test_extension_attributes_are_allowed() -> None:
    raw = {**VALID["metric"], "traceparent": "00-abc-def-01", "partitionkey": "api"}
    assert isinstance(decode(orjson.dumps(raw)), MetricRecorded)


def test_datacontenttype_may_be_absent() -> None:
    raw = {k: v for k, v in VALID["metric"].items() if k != "datacontenttype"}
    assert isinstance(decode(orjson.dumps(raw)), MetricRecorded)


INVALID = [
    ("missing data field", _without(VALID["created"], "job_type"), "data.job_type"),
    ("rating above 5", _with(VALID["feedback"], rating=9), "data.rating"),
    ("rating below 1", _with(VALID["feedback"], rating=0), "data.rating"),
    ("rating as string", _with(VALID["feedback"], rating="4"), "data.rating"),
    ("rating as float", _with(VALID["feedback"], rating=4.0), "data.rating"),
    ("unknown flag", _with(VALID["feedback"], flags=["rude"]), "data.flags"),
    ("repeated flag", _with(VALID["feedback"], flags=["spam", "spam"]), "data.flags"),
    ("comment too long", _with(VALID["feedback"], comment="x" * 4001), "data.comment"),
    ("end before start", _with(VALID["created"], start_block=20, end_block=10), "end_block"),
    ("negative start", _with(VALID["created"], start_block=-1), "data.start_block"),
    ("empty job type", _with(VALID["created"], job_type=""), "data.job_type"),
    ("negative sequence", _with(VALID["progress"], sequence=-1), "data.sequence"),
    ("job id not a uuid", _with(VALID["completed"], job_id="job-1"), "data.job_id"),
    ("value not a number", _with(VALID["metric"], value="fast"), "data.value"),
    ("unknown type", orjson.dumps({**VALID["metric"], "type": "utxoiq.other"}), "type"),
    ("wrong specversion", orjson.dumps({**VALID["metric"], "specversion": "0.3"}), "specversion"),
    (
        "time without offset",
        orjson.dumps({**VALID["metric"], "time": "2026-11-01T00:00:00"}),
        "time",
    ),
    ("id not a uuid", orjson.dumps({**VALID["metric"], "id": "abc"}), "id"),
    ("not an object", b"[1, 2, 3]", "<event>"),
    ("a bare number", b"42", "<event>"),
]


@pytest.mark.parametrize(("case", "raw", "field"), INVALID, ids=[c[0] for c in INVALID])
def test_contract_violations_are_refused_at_validate_naming_the_field(
    case: str, raw: bytes, field: str
) -> None:
    with pytest.raises(EventRejected) as caught:
        decode(raw)
    assert caught.value.stage == "validate"
    assert field in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe{}", b'{"specversion": "1.0",', b"not json", b"", b"[" * 5000 + b"]" * 5000],
    ids=["bad utf-8", "truncated", "plain text", "empty", "too deep"],
)
def test_unparseable_bytes_are_refused_at_decode(raw: bytes) -> None:
    with pytest.raises(EventRejected) as caught:
        decode(raw)
    assert caught.value.stage == "decode"


def test_oversized_value_is_refused_before_parsing() -> None:
    raw = orjson.dumps({**VALID["metric"], "padding": "x" * 2000})
    with pytest.raises(EventRejected) as caught:
        decode(raw, max_bytes=1000)
    assert (caught.value.stage, caught.value.reason) == ("decode", "EventTooLarge")


def test_tombstone_is_refused_at_decode() -> None:
    with pytest.raises(EventRejected) as caught:
        decode(None)
    assert caught.value.stage == "decode"


def test_a_pipeline_refuses_another_pipelines_event_naming_its_type() -> None:
    with pytest.raises(EventRejected) as caught:
        decode(orjson.dumps(VALID["feedback"]), CONTRACTS[Stream.METRICS].adapter)
    assert (caught.value.stage, caught.value.reason) == ("validate", "UnknownEventType")
    assert "'utxoiq.insight.feedback.submitted'" in str(caught.value)


def test_record_keys_follow_the_contract() -> None:
    assert record_key(decode(orjson.dumps(VALID["created"]))) == JOB
    assert record_key(decode(orjson.dumps(VALID["feedback"]))) == "ins-1:user-1"
    assert record_key(decode(orjson.dumps(VALID["metric"]))) == "api"


def test_models_are_usable_without_the_consumer_package() -> None:
    import subprocess
    import sys

    code = (
        "import sys, schemas, schemas.compat, schemas.contract_files; "
        "assert not any(m == 'consumer' or m.startswith('consumer.') for m in sys.modules), "
        "sorted(m for m in sys.modules if m.startswith('consumer'))"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_types_map_to_models() -> None:
    assert isinstance(decode(orjson.dumps(VALID["created"])), JobCreated)
    assert isinstance(decode(orjson.dumps(VALID["feedback"])), FeedbackSubmitted)
