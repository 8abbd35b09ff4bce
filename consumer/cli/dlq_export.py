"""``utxoiq dlq export``: dead letters as NDJSON, from the table or from a dead-letter
topic itself."""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import orjson
import typer

from consumer.cli.common import load_settings
from consumer.cli.errors import EXIT_USAGE, fail
from consumer.cli.guard import guarded
from consumer.coordinates import RecordId
from consumer.ops.connection import operator_connection
from consumer.ops.dlq import iter_dead_letters
from consumer.ops.dlq_selection import DeadLetterFilter
from consumer.ops.dlq_topic import original_id, read_topic, record_to_json
from consumer.settings import Settings
from schemas.topics import dlq_topic


def export(
    chosen: DeadLetterFilter,
    output: Path | None = typer.Option(
        None, "--output", "-o", help="NDJSON file to write (default: standard output)."
    ),
    from_topic: bool = typer.Option(
        False,
        "--from-topic",
        help="Read <topic>.dlq itself (needs --topic; --limit applies; a dead letter"
        " published twice is exported once).",
    ),
) -> None:
    """NDJSON, one dead letter per line, keys, values and headers in base64."""
    narrowed = (
        chosen.stage,
        chosen.error_class,
        chosen.status,
        chosen.since,
        chosen.until,
        chosen.key,
    )
    if from_topic and (chosen.topic is None or any(narrowed)):
        fail("--from-topic needs --topic and takes only --limit besides", EXIT_USAGE)
    with _output(output) as stream:
        count = guarded(_export(load_settings(), chosen, from_topic, stream))
    typer.echo(f"exported {count} dead letter(s)", err=True)


@contextlib.contextmanager
def _output(path: Path | None) -> Iterator[IO[str]]:
    """Standard output, or ``path`` written whole or not at all: the lines go to a
    temporary file beside it (readable by its owner only, as dead letters hold users'
    data), which replaces ``path`` once the export has succeeded; an export that fails
    leaves a file already there as it was."""
    if path is None:
        yield sys.stdout
        return
    try:
        fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror}")
    partial = Path(name)
    try:
        with open(fd, "w", encoding="utf-8") as stream:
            yield stream
        try:
            partial.replace(path)
        except OSError as exc:
            fail(f"cannot write {path}: {exc.strerror}")
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


async def _export(
    settings: Settings, chosen: DeadLetterFilter, from_topic: bool, stream: IO[str]
) -> int:
    count = 0
    if from_topic:
        assert chosen.topic is not None
        seen: set[RecordId] = set()
        async with contextlib.aclosing(read_topic(settings, dlq_topic(chosen.topic))) as records:
            async for record in records:
                original = original_id(record)
                if original is not None and original in seen:
                    continue  # published twice (a dropped connection): counted once
                if original is not None:
                    seen.add(original)
                stream.write(orjson.dumps(record_to_json(record)).decode() + "\n")
                count += 1
                if chosen.limit and count >= chosen.limit:
                    break
        return count
    async with operator_connection(settings) as conn:
        async for row in iter_dead_letters(conn, chosen):
            stream.write(orjson.dumps(row.to_json()).decode() + "\n")
            count += 1
    return count
