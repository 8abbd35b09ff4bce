"""``utxoiq schemas``: the event contract as JSON Schema files and an AsyncAPI document."""

from __future__ import annotations

from enum import StrEnum
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import orjson
import typer
import yaml
from pydantic import ValidationError

from consumer.cli.errors import EXIT_USAGE, describe_settings_error, fail
from consumer.cli.files import output_folder
from consumer.ops.asyncapi import asyncapi_document
from consumer.settings import IngestSettings, TopicSettings
from schemas.events import EVENT_MODELS, event_type_of
from schemas.topics import Stream

app = typer.Typer(
    help="Event contracts: export JSON Schemas and an AsyncAPI 3.0 document.",
    no_args_is_help=True,
)


class DocumentFormat(StrEnum):
    """File format of the AsyncAPI document."""

    YAML = "yaml"
    """``asyncapi.yaml``."""
    JSON = "json"
    """``asyncapi.json``."""


@app.command("export")
def export(
    directory: Path = typer.Argument(..., help="Folder to write into (created)."),
    asyncapi_format: DocumentFormat = typer.Option(
        DocumentFormat.YAML, "--asyncapi-format", help="Write asyncapi.yaml or asyncapi.json."
    ),
) -> None:
    """Write one JSON Schema file per event type, and asyncapi.yaml, into DIRECTORY.

    The AsyncAPI document uses the topic names of this environment (UTXOIQ_TOPIC_*).
    """
    output_folder(directory)
    for model in EVENT_MODELS:
        name = event_type_of(model)
        path = directory / f"{name}.schema.json"
        schema = model.model_json_schema()
        schema["$id"] = f"https://utxoiq.dev/schemas/{name}.schema.json"
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        path.write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        typer.echo(str(path))
    path = directory / f"asyncapi.{asyncapi_format.value}"
    path.write_text(_serialise(_document(), asyncapi_format), encoding="utf-8")
    typer.echo(str(path))


def _document() -> dict[str, Any]:
    try:
        topics, ingest = TopicSettings(), IngestSettings()
    except ValidationError as exc:
        fail(describe_settings_error(exc), EXIT_USAGE)
    partitions = {
        s: ingest.metrics_partitions if s is Stream.METRICS else ingest.default_partitions
        for s in Stream
    }
    return asyncapi_document({s: topics.source(s) for s in Stream}, partitions, _version())


def _version() -> str:
    try:
        return version("utxoiq-ingest")
    except PackageNotFoundError:
        return "0.0.0"


def _serialise(document: dict[str, Any], form: DocumentFormat) -> str:
    if form is DocumentFormat.JSON:
        return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n"
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
