"""``utxoiq publish``: validate events from NDJSON and publish them keyed by entity.

Each line is sent as it is (CloudEvents extension attributes included) once it decodes
as a valid event. A progress bar runs on standard error when it is a terminal; the
summary gives the events sent per topic and the lines refused.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from consumer.cli.common import load_settings, run
from consumer.cli.errors import fail
from consumer.settings import Settings
from schemas.codec import EVENT_ADAPTER, EventRejected, decode
from schemas.publisher import EventPublisher, PublishError
from schemas.topics import Stream, stream_of

CHUNK = 1000
"""Events sent before waiting for their acknowledgements (bounds memory)."""
SHOWN_LINES = 20


@dataclass(slots=True)
class Summary:
    sent: Counter[str] = field(default_factory=Counter)
    refused: list[int] = field(default_factory=list)

    def describe(self, check: bool) -> str:
        topics = ", ".join(f"{t}: {n}" for t, n in sorted(self.sent.items())) or "nothing"
        lines = ", ".join(map(str, self.refused[:SHOWN_LINES]))
        more = (
            f" and {len(self.refused) - SHOWN_LINES} more"
            if len(self.refused) > SHOWN_LINES
            else ""
        )
        refused = f"{len(self.refused)}" + (f" (lines {lines}{more})" if self.refused else "")
        verb = "valid" if check else "sent"
        return f"{verb}: {sum(self.sent.values())} ({topics}); refused: {refused}"


def publish(
    source: Path = typer.Argument(
        Path("-"), help="NDJSON file with one event per line; '-' reads standard input."
    ),
    check: bool = typer.Option(False, "--check", help="Validate only; send nothing."),
) -> None:
    """Validate every line, report bad ones by line number, publish the good ones."""
    settings = load_settings()
    if str(source) == "-":
        summary = run(_publish(settings, sys.stdin, None, check))
    else:
        if not source.is_file():
            fail(f"no such file: {source}")
        with source.open(encoding="utf-8", errors="surrogateescape") as stream:
            summary = run(_publish(settings, stream, source.stat().st_size, check))
    typer.echo(summary.describe(check))
    if summary.refused:
        raise typer.Exit(1)


def publisher_for(settings: Settings) -> EventPublisher:
    return EventPublisher(
        settings.kafka.bootstrap_servers,
        settings.kafka.client_options(),
        topics={s: settings.topics.source(s) for s in Stream},
        max_event_bytes=settings.ingest.max_event_bytes,
    )


def _chunks(lines: IO[str], size: int) -> Iterator[list[tuple[int, str]]]:
    chunk: list[tuple[int, str]] = []
    for number, line in enumerate(lines, start=1):
        chunk.append((number, line))
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


async def _publish(settings: Settings, lines: IO[str], total: int | None, check: bool) -> Summary:
    publisher = None if check else publisher_for(settings)
    summary = Summary()
    console = Console(stderr=True, highlight=False, markup=False, emoji=False)
    progress = Progress(
        TextColumn("publishing" if not check else "checking"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} bytes" if total else ""),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    try:
        if publisher is not None:
            await _start(publisher)
        with progress:
            task = progress.add_task("publish", total=total)
            for chunk in _chunks(lines, CHUNK):
                await _send_chunk(settings, publisher, chunk, summary, progress, task)
    finally:
        if publisher is not None:
            await publisher.stop()
    return summary


async def _start(publisher: EventPublisher) -> None:
    try:
        await publisher.start()
    except PublishError as exc:
        fail(str(exc))


async def _send_chunk(
    settings: Settings,
    publisher: EventPublisher | None,
    chunk: list[tuple[int, str]],
    summary: Summary,
    progress: Progress,
    task: TaskID,
) -> None:
    max_bytes = settings.ingest.max_event_bytes
    topics = {s: settings.topics.source(s) for s in Stream}
    valid = []
    for number, line in chunk:
        progress.advance(task, len(line.encode("utf-8", "surrogateescape")))
        if not line.strip():
            continue
        value = line.rstrip("\r\n").encode("utf-8", "surrogateescape")
        try:
            event = decode(value, EVENT_ADAPTER, max_bytes=max_bytes)
        except EventRejected as exc:
            summary.refused.append(number)
            progress.console.print(f"line {number}: {exc}")
            continue
        valid.append((event, value))
    if publisher is None:
        summary.sent.update(topics[stream_of(event)] for event, _ in valid)
        return
    try:
        for sent in await publisher.send_decoded(valid):
            summary.sent[sent.topic] += 1
    except PublishError as exc:
        fail(f"{exc} (after {sum(summary.sent.values())} events sent)")
