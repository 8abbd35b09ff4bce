"""The event contract as an AsyncAPI 3.0 document (pure): topics, keys, messages, schemas.

A producer in another language can generate its models and clients from it. Source
channels carry the event types of ``schemas.registry.REGISTRY`` (producers ``send``);
each dead-letter channel carries the original bytes plus the ``dlq.*`` headers the
contract names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic.json_schema import models_json_schema

from schemas.events import event_type_of
from schemas.registry import REGISTRY
from schemas.topics import Stream, dlq_topic

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING = "0.5.0"
SCHEMAS_REF = "#/components/schemas/{model}"

KEYS: dict[Stream, dict[str, Any]] = {
    Stream.JOBS: {
        "type": "string",
        "format": "uuid",
        "description": "data.job_id: every event of a job lands on one partition, in order.",
    },
    Stream.FEEDBACK: {
        "type": "string",
        "description": 'data.insight_id + ":" + data.user_id.',
    },
    Stream.METRICS: {"type": "string", "description": "data.service_name."},
}

DESCRIPTIONS = {
    Stream.JOBS: "Backfill job lifecycle. `sequence` strictly increases per job; completed"
    " and failed are terminal.",
    Stream.FEEDBACK: "Users' feedback on insights; the newest event time wins per insight"
    " and user.",
    Stream.METRICS: "System metric samples; each event id is stored once.",
}

DLQ_HEADERS = {
    "dlq.original.topic": "Source topic of the record.",
    "dlq.original.partition": "Source partition (decimal).",
    "dlq.original.offset": "Source offset (decimal).",
    "dlq.original.timestamp": "Source record timestamp, milliseconds since the epoch.",
    "dlq.error.stage": "decode, validate or apply.",
    "dlq.error.class": "Short name of the failure.",
    "dlq.error.message": "One line, bounded length, no stack trace.",
    "dlq.consumer.group": "Consumer group that dead-lettered the record.",
    "dlq.failed.at": "RFC 3339 time of the failure.",
    "dlq.redrive.count": "How many times the record was republished to its source topic.",
}


def message_id(event_type: str) -> str:
    """``utxoiq.backfill.job.created`` -> ``backfillJobCreated``."""
    words = event_type.removeprefix("utxoiq.").replace("-", ".").split(".")
    return words[0] + "".join(w.capitalize() for w in words[1:])


def _schemas() -> dict[str, Any]:
    _, top = models_json_schema(
        [(v.model, "validation") for v in REGISTRY.versions.values()], ref_template=SCHEMAS_REF
    )
    return dict(top.get("$defs", {}))


def _message(model: type[Any], stream: Stream) -> dict[str, Any]:
    event_type = event_type_of(model)
    return {
        "name": event_type,
        "title": model.__name__,
        "summary": f"CloudEvents 1.0 structured-mode event of type {event_type}.",
        "contentType": "application/json",
        "payload": {"$ref": SCHEMAS_REF.format(model=model.__name__)},
        "bindings": {"kafka": {"key": dict(KEYS[stream]), "bindingVersion": KAFKA_BINDING}},
    }


def _dead_letter_message() -> dict[str, Any]:
    return {
        "name": "dead-letter",
        "title": "Dead letter",
        "summary": "The original key and value bytes, unchanged, with the reason in headers.",
        "headers": {
            "type": "object",
            "properties": {n: {"type": "string", "description": d} for n, d in DLQ_HEADERS.items()},
            "required": sorted(DLQ_HEADERS),
        },
        "payload": {"description": "The original record value, byte for byte (may not be JSON)."},
    }


def asyncapi_document(
    topics: Mapping[Stream, str], partitions: Mapping[Stream, int], version: str
) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of the contract, with the given topic names."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {"deadLetter": _dead_letter_message()}
    models = {name: version.model for name, version in REGISTRY.versions.items()}
    for stream in Stream:
        refs = {}
        for event_type in REGISTRY.accepts(stream).types:
            name = message_id(event_type)
            messages[name] = _message(models[event_type], stream)
            refs[name] = {"$ref": f"#/components/messages/{name}"}
        kafka = {"partitions": partitions[stream], "bindingVersion": KAFKA_BINDING}
        channels[stream.value] = {
            "address": topics[stream],
            "title": f"{stream.value} events",
            "description": DESCRIPTIONS[stream],
            "messages": refs,
            "bindings": {"kafka": kafka},
        }
        channels[f"{stream.value}DeadLetters"] = {
            "address": dlq_topic(topics[stream]),
            "title": f"{stream.value} dead letters",
            "messages": {"deadLetter": {"$ref": "#/components/messages/deadLetter"}},
            "bindings": {"kafka": dict(kafka)},
        }
        operations[f"publish{stream.value.capitalize()}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{stream.value}"},
            "summary": f"Publish {stream.value} events, keyed as the message bindings say.",
            "messages": [{"$ref": f"#/channels/{stream.value}/messages/{n}"} for n in refs],
        }
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "utxoIQ ingestion events",
            "version": version,
            "description": (
                "Events the utxoIQ ingestion service consumes from Kafka. Every record value"
                " is a CloudEvents 1.0 structured-mode JSON object; `id` is the idempotency"
                " key and `time` is when the event happened."
            ),
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": _schemas()},
    }
