"""The AsyncAPI document: every topic, key, message type and schema, all references whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from consumer.cli.main import app
from consumer.ops.asyncapi import DLQ_HEADERS, asyncapi_document, message_id
from schemas.events import EVENT_MODELS, event_type_of
from schemas.topics import CONTRACTS, Stream

TOPICS = {Stream.JOBS: "a.jobs", Stream.FEEDBACK: "a.feedback", Stream.METRICS: "a.metrics"}
PARTITIONS = {Stream.JOBS: 3, Stream.FEEDBACK: 3, Stream.METRICS: 6}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return asyncapi_document(TOPICS, PARTITIONS, "1.2.3")


def refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in refs(value)]
    return []


def resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def test_it_is_asyncapi_3(document: dict[str, Any]) -> None:
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["version"] == "1.2.3"


def test_every_reference_resolves(document: dict[str, Any]) -> None:
    found = refs(document)
    assert found
    for ref in found:
        assert resolve(document, ref) is not None


def test_channels_are_the_topics_and_their_dead_letter_topics(document: dict[str, Any]) -> None:
    addresses = {c["address"] for c in document["channels"].values()}
    assert addresses == set(TOPICS.values()) | {t + ".dlq" for t in TOPICS.values()}
    assert document["channels"]["metrics"]["bindings"]["kafka"]["partitions"] == 6


def test_each_event_type_is_a_message_on_its_topic(document: dict[str, Any]) -> None:
    for stream in Stream:
        channel = document["channels"][stream.value]
        names = {resolve(document, m["$ref"])["name"] for m in channel["messages"].values()}
        assert names == set(CONTRACTS[stream].event_types)
        operation = document["operations"][f"publish{stream.value.capitalize()}"]
        assert operation["action"] == "send"
        assert len(operation["messages"]) == len(names)


def test_messages_carry_their_key_and_payload_schema(document: dict[str, Any]) -> None:
    messages = document["components"]["messages"]
    for model in EVENT_MODELS:
        message = messages[message_id(event_type_of(model))]
        assert message["bindings"]["kafka"]["key"]["type"] == "string"
        schema = resolve(document, message["payload"]["$ref"])
        assert {"id", "time", "type", "data", "specversion", "source"} <= set(schema["required"])
    job_key = messages["backfillJobCreated"]["bindings"]["kafka"]["key"]
    assert job_key["format"] == "uuid"


def test_data_schemas_allow_unknown_fields(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    assert schemas["JobCreatedData"]["additionalProperties"] is True
    assert schemas["FeedbackSubmittedData"]["properties"]["rating"]["maximum"] == 5


def test_dead_letters_name_the_contract_headers(document: dict[str, Any]) -> None:
    headers = document["components"]["messages"]["deadLetter"]["headers"]
    assert set(headers["properties"]) == set(DLQ_HEADERS)
    assert "dlq.redrive.count" in headers["required"]


def test_message_ids_are_camel_case() -> None:
    assert message_id("utxoiq.backfill.job.created") == "backfillJobCreated"
    assert message_id("utxoiq.system.metric.recorded") == "systemMetricRecorded"


@pytest.mark.parametrize("form", ["yaml", "json"])
def test_schemas_export_writes_the_document_beside_the_json_schemas(
    tmp_path: Path, form: str
) -> None:
    result = CliRunner().invoke(
        app,
        ["schemas", "export", str(tmp_path), "--asyncapi-format", form],
        env={"UTXOIQ_TOPIC_JOBS": "prod.jobs"},
    )
    assert result.exit_code == 0, result.stderr
    document = yaml.safe_load((tmp_path / f"asyncapi.{form}").read_text())
    assert document["asyncapi"] == "3.0.0"
    assert document["channels"]["jobs"]["address"] == "prod.jobs"
    assert len(list(tmp_path.glob("*.schema.json"))) == len(EVENT_MODELS)
