"""``utxoiq schemas``: the event contract as JSON Schema files and an AsyncAPI document,
and the compatibility check of the contract against a released baseline."""

from __future__ import annotations

from enum import StrEnum
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import orjson
import typer
import yaml
from pydantic import ValidationError

from consumer.cli.errors import EXIT_FAILURE, EXIT_USAGE, describe_settings_error, fail
from consumer.cli.files import output_folder
from consumer.ops.asyncapi import asyncapi_document
from consumer.settings import IngestSettings, TopicSettings
from schemas.compat import compare
from schemas.contract_files import ContractFileError, read_contract, write_contract
from schemas.registry import REGISTRY
from schemas.schema_fields import UnreadableSchema
from schemas.topics import Stream

app = typer.Typer(
    help="Event contracts: export JSON Schemas and an AsyncAPI 3.0 document; check"
    " compatibility with a baseline.",
    no_args_is_help=True,
)


class DocumentFormat(StrEnum):
    """File format of the AsyncAPI document."""

    YAML = "yaml"
    """``asyncapi.yaml``."""
    JSON = "json"
    """``asyncapi.json``."""
    NONE = "none"
    """No AsyncAPI document: the JSON Schema files only (a baseline for ``check``)."""


@app.command("export")
def export(
    directory: Path = typer.Argument(..., help="Folder to write into (created)."),
    asyncapi_format: DocumentFormat = typer.Option(
        DocumentFormat.YAML,
        "--asyncapi-format",
        help="Write asyncapi.yaml or asyncapi.json, or none.",
    ),
) -> None:
    """Write one JSON Schema file per event type, and asyncapi.yaml, into DIRECTORY.

    The AsyncAPI document uses the topic names of this environment (UTXOIQ_TOPIC_*).
    """
    output_folder(directory)
    document = None if asyncapi_format is DocumentFormat.NONE else _document()
    try:
        written = write_contract(REGISTRY.json_schemas(), directory)
    except ContractFileError as exc:
        fail(str(exc), EXIT_USAGE)
    if document is not None:
        path = directory / f"asyncapi.{asyncapi_format.value}"
        try:
            path.write_text(_serialise(document, asyncapi_format), encoding="utf-8")
        except OSError as exc:
            fail(f"cannot write {path}: {exc.strerror}")
        written.append(path)
    for written_path in written:
        typer.echo(str(written_path))


@app.command("check")
def check(
    baseline: Path = typer.Option(
        ..., "--baseline", metavar="DIR", help="A folder exported by `utxoiq schemas export`."
    ),
) -> None:
    """Compare this code's contract with a baseline export; list every change by rule.

    A change passes only if old consumers accept every event new producers emit and new
    consumers accept every event old producers emit. Exit status 0 when every change
    passes, 1 when one does not, 2 when the baseline cannot be read.
    """
    try:
        released = read_contract(baseline)
    except ContractFileError as exc:
        fail(str(exc), EXIT_USAGE)
    try:
        changes = compare(released, REGISTRY.json_schemas())
    except UnreadableSchema as exc:
        fail(f"{baseline}: {exc}", EXIT_USAGE)
    for change in changes:
        typer.echo(str(change))
    failing = sum(not change.passes for change in changes)
    if failing:
        fail(f"{failing} incompatible change(s) from the baseline in {baseline}", EXIT_FAILURE)
    typer.echo(f"compatible with the baseline in {baseline} ({len(changes)} change(s))")


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
