"""Tolerant reading, versioned types and the refusals the contract names, without a broker."""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from typing import Any

import orjson
import pytest
from pydantic import ValidationError

from consumer.decoding import decode_records
from consumer.outcomes import BatchReport
from consumer.telemetry import Telemetry
from consumer.unknown_fields import MAX_NAME_CHARS, UnknownFieldLog, printable_name
from schemas import (
    REGISTRY,
    EventRejected,
    EventVersion,
    InvalidEvent,
    MetricRecorded,
    MetricRecordedData,
    Registry,
    Stream,
    decode,
    schema_id,
    unknown_fields,
)
from schemas.building import build_event
from tests.support import events as ev
from tests.support.versions import METRIC_V2, REGISTRY_WITH_V2, MetricRecordedV2, metric_v2
from tests.unit.helpers import record

METRICS_V2 = REGISTRY_WITH_V2.accepts(Stream.METRICS)


def rejected(raw: bytes, registry: Registry = REGISTRY) -> EventRejected:
    with pytest.raises(EventRejected) as caught:
        decode(raw, registry.adapter)
    return caught.value


# -- tolerant reading -------------------------------------------------------------------


def test_unknown_fields_at_every_depth_are_accepted_and_named() -> None:
    event = metric_v2("api", "cpu", 1.0)
    event["traceparent"] = "00-ab-cd-01"
    event["data"]["region"] = {"zone": {"rack": 3}}
    event["data"]["metric"]["scale"] = 1000
    read = decode(orjson.dumps(event), METRICS_V2.adapter)
    assert unknown_fields(read) == ["traceparent", "data.region", "data.metric.scale"]


def test_an_event_without_unknown_fields_names_none() -> None:
    assert unknown_fields(decode(orjson.dumps(ev.feedback("i", "u", 3)))) == []


def test_the_decode_stage_counts_unknown_fields_per_wire_type() -> None:
    v1 = ev.metric("api", "cpu", 1.0)
    v1 = {**v1, "data": {**v1["data"], "colour": "red", "shade": "dark"}}
    v2 = metric_v2("api", "cpu", 2.0)
    v2["data"]["service"]["team"] = "core"
    unknown: Counter[str] = Counter()
    good, dead = decode_records([record(v1, 0), record(v2, 1)], METRICS_V2, 10_000, unknown)
    assert dead == []
    assert unknown == {"utxoiq.system.metric.recorded": 2, METRIC_V2: 1}
    assert all(isinstance(item.event, MetricRecorded) for item in good)


# -- versioned types ---------------------------------------------------------------------


def test_a_second_version_is_read_as_the_version_the_writer_takes() -> None:
    wire = metric_v2("api", "latency", 12.5, unit="s")
    (item,), _ = decode_records([record(wire)], METRICS_V2, 10_000)
    assert item.event.type == "utxoiq.system.metric.recorded"
    assert str(item.event.id) == wire["id"]
    assert item.event.data == MetricRecordedData(
        service_name="api", metric_type="latency", value=12.5, unit="s"
    )


def test_the_released_registry_refuses_a_version_it_does_not_list_naming_it() -> None:
    error = rejected(orjson.dumps(metric_v2("api", "cpu", 1.0)))
    assert (error.stage, error.reason) == ("validate", "UnknownEventType")
    assert f"type: unknown event type '{METRIC_V2}'" in str(error)
    _, (dead,) = decode_records(
        [record(metric_v2("a", "b", 1.0))], REGISTRY.accepts(Stream.METRICS), 10_000
    )
    assert (dead.stage, dead.error_class) == ("validate", "UnknownEventType")
    assert f"'{METRIC_V2}'" in dead.message and "utxoiq.system.metric.recorded'" in dead.message


def test_an_unknown_type_is_named_escaped_and_cut_short() -> None:
    error = rejected(orjson.dumps({**ev.metric("a", "b", 1.0), "type": "x\n" + "y" * 500}))
    assert "'x\\nyyy" in str(error) and "y" * 200 not in str(error)


def test_a_registry_with_more_versions_leaves_the_released_one_as_it_is() -> None:
    assert METRIC_V2 in REGISTRY_WITH_V2.types and METRIC_V2 not in REGISTRY.types
    assert REGISTRY_WITH_V2.stream_of(METRIC_V2) is Stream.METRICS
    assert REGISTRY.accepts(Stream.METRICS).types == ("utxoiq.system.metric.recorded",)
    with pytest.raises(ValueError, match="registered twice"):
        REGISTRY_WITH_V2.with_versions(Stream.JOBS, EventVersion(MetricRecordedV2))


def test_a_version_that_does_not_map_onto_the_current_one_is_refused_at_validate() -> None:
    long_name = "s" * 2000  # the second version allows it; the first bounds it at 1024
    (dead,) = decode_records([record(metric_v2(long_name, "cpu", 1.0))], METRICS_V2, 10_000)[1]
    assert (dead.stage, dead.error_class) == ("validate", "ContractViolation")
    assert dead.message == (
        f"{METRIC_V2} does not map onto its current version: "
        "data.service_name: String should have at most 1024 characters"
    )


# -- dataschema ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "dataschema",
    [schema_id("utxoiq.system.metric.recorded"), "urn:anything", 42, None, "bad\x00", "x" * 5000],
)
def test_dataschema_never_refuses_an_event(dataschema: Any) -> None:
    raw = orjson.dumps({**ev.metric("a", "b", 1.0), "dataschema": dataschema})
    assert isinstance(decode(raw), MetricRecorded)


def test_published_events_name_the_id_of_their_json_schema() -> None:
    event = build_event("utxoiq.system.metric.recorded", ev.metric("a", "b", 1.0)["data"])
    exported = REGISTRY.json_schemas()["utxoiq.system.metric.recorded"]
    assert event.dataschema == exported["$id"] == schema_id("utxoiq.system.metric.recorded")


# -- refusals -----------------------------------------------------------------------------

JOB = str(uuid.uuid4())
TEXT_FIELDS = [
    (ev.metric("a", "b", 1.0), "source", None),
    (ev.metric("a", "b", 1.0), "datacontenttype", None),
    (ev.metric("a", "b", 1.0), "service_name", "data"),
    (ev.metric("a", "b", 1.0), "metric_type", "data"),
    (ev.metric("a", "b", 1.0), "unit", "data"),
    (ev.feedback("i", "u", 3), "insight_id", "data"),
    (ev.feedback("i", "u", 3), "user_id", "data"),
    (ev.feedback("i", "u", 3, comment="c"), "comment", "data"),
    (ev.job_created(JOB), "job_type", "data"),
    (ev.job_created(JOB), "created_by", "data"),
    (ev.job_failed(JOB, 2, "boom"), "error_message", "data"),
]


@pytest.mark.parametrize(
    ("event", "field", "within"), TEXT_FIELDS, ids=[f for _, f, _ in TEXT_FIELDS]
)
def test_nul_in_any_text_field_is_refused_at_validate_naming_the_field(
    event: dict[str, Any], field: str, within: str | None
) -> None:
    if within is None:
        event = {**event, field: "a\x00b"}
    else:
        event = {**event, within: {**event[within], field: "a\x00b"}}
    error = rejected(orjson.dumps(event))
    assert (error.stage, error.reason) == ("validate", "ContractViolation")
    path = f"{within}.{field}" if within else field
    assert str(error) == f"{path}: must not contain U+0000 (PostgreSQL text cannot hold it)"


def test_a_producer_cannot_build_a_text_with_nul() -> None:
    with pytest.raises(InvalidEvent, match=r"^data\.unit: must not contain U\+0000"):
        build_event(
            "utxoiq.system.metric.recorded", {**ev.metric("a", "b", 1.0)["data"], "unit": "\x00"}
        )
    with pytest.raises(ValidationError, match="service_name"):
        MetricRecordedData(service_name="a\x00", metric_type="b", value=1.0, unit="ms")


@pytest.mark.parametrize("time", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
def test_a_time_outside_the_utc_years_is_refused_at_validate_naming_the_field(time: str) -> None:
    error = rejected(orjson.dumps({**ev.metric("a", "b", 1.0), "time": time}))
    assert (error.stage, str(error)) == (
        "validate",
        "time: in UTC falls outside the years 1 to 9999",
    )


@pytest.mark.parametrize(
    "time", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00-01:00"]
)
def test_the_extreme_times_inside_the_utc_years_are_accepted(time: str) -> None:
    assert isinstance(
        decode(orjson.dumps({**ev.metric("a", "b", 1.0), "time": time})), MetricRecorded
    )


@pytest.mark.parametrize("token", [b"NaN", b"Infinity", b"-Infinity"])
@pytest.mark.parametrize("where", ["value", "unknown field"])
def test_nan_and_infinity_are_refused_at_decode(token: bytes, where: str) -> None:
    metric = ev.metric("a", "b", 1.0)
    metric["data"]["spare"] = 999.0
    target = b"999.0" if where == "unknown field" else b'"value":1.0'
    replacement = token if where == "unknown field" else b'"value":' + token
    raw = orjson.dumps(metric).replace(target, replacement)
    error = rejected(raw)
    assert (error.stage, error.reason) == ("decode", "MalformedJson")
    assert str(error).startswith("not JSON text: NaN and Infinity are not JSON numbers at line 1")
    good, dead = decode_records([record(raw)], REGISTRY.accepts(Stream.METRICS), 10_000)
    assert good == [] and (dead[0].stage, dead[0].error_class) == ("decode", "MalformedJson")


def test_the_words_nan_and_infinity_inside_text_are_just_text() -> None:
    raw = orjson.dumps(ev.feedback("NaN", "Infinity", 3, comment="-Infinity NaN"))
    assert decode(raw).data.insight_id == "NaN"


@pytest.mark.parametrize(
    ("raw", "position"),
    [
        (b"\xff\xfe{}", 0),
        (orjson.dumps(ev.metric("api", "b", 1.0)).replace(b'"api"', b'"a\xc3"'), None),
    ],
    ids=["first byte", "inside a string"],
)
def test_invalid_utf8_is_named_as_such_at_decode(raw: bytes, position: int | None) -> None:
    error = rejected(raw)
    assert (error.stage, error.reason) == ("decode", "InvalidUtf8")
    at = raw.index(b"\xc3") if position is None else position
    assert str(error).startswith(f"not UTF-8 text: byte 0x{raw[at]:02x} at position {at} (")


def test_an_event_without_a_type_is_told_so() -> None:
    error = rejected(orjson.dumps({"specversion": "1.0"}))
    assert (error.stage, error.reason, str(error)) == (
        "validate",
        "ContractViolation",
        "type: Field required",
    )


def test_bad_syntax_keeps_its_own_message() -> None:
    error = rejected(b'{"specversion": "1.0",')
    assert (error.stage, error.reason) == ("decode", "MalformedJson")
    assert str(error).startswith("not JSON text: EOF while parsing")


# -- the log of unknown fields --------------------------------------------------------------


def test_each_type_and_field_is_logged_once_escaped_and_cut_short(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="consumer.unknown_fields")
    log = UnknownFieldLog()
    log.note("t1", ["data.a", "data.b"])
    log.note("t1", ["data.a"])
    log.note("t2", ["data.a", "x\n\x1b[31m" + "é" * 100])
    fields = [(r.event_type, r.field) for r in caplog.records]  # type: ignore[attr-defined]
    assert fields[:3] == [("t1", "data.a"), ("t1", "data.b"), ("t2", "data.a")]
    shown = fields[3][1]
    assert shown.startswith("x\\n\\x1b[31m\\xe9") and len(shown) == MAX_NAME_CHARS
    assert printable_name("plain") == "plain"


def test_past_the_cap_a_types_new_names_are_only_counted(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="consumer.unknown_fields")
    log = UnknownFieldLog(max_names_per_type=3)
    log.note("t", [f"f{i}" for i in range(10)])
    log.note("other", ["g"])
    assert log.logged("t") == {"f0", "f1", "f2"}
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("further unknown field names of this type are only counted") == 1
    assert len(messages) == 3 + 1 + 1


def test_unknown_fields_of_a_committed_batch_reach_the_counter_by_type() -> None:
    telemetry = Telemetry()
    report = BatchReport(records=3)
    report.unknown_fields.update({METRIC_V2: 2, "utxoiq.system.metric.recorded": 1})
    telemetry.batch_committed("metrics", "t", report)
    telemetry.batch_committed("metrics", "t", report)
    counted = telemetry.registry.get_sample_value
    labels = {"pipeline": "metrics", "type": METRIC_V2}
    assert counted("utxoiq_unknown_fields_total", labels) == 4
