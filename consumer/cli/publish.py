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

from consumer.cli.addresses import explain_kafka_failure
from consumer.cli.common import load_settings, run
from consumer.cli.errors import fail
from consumer.cli.files import input_file
from consumer.settings import Settings
from schemas import BrokerUnreachable, EventPublisher, PublishError
from schemas.codec import EVENT_ADAPTER, EventRejected, decode
from schemas.events import AnyEvent
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
        label = "line" if len(self.refused) == 1 else "lines"
        refused = f"{len(self.refused)}" + (f" ({label} {lines}{more})" if self.refused else "")
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
        with input_file(source).open(encoding="utf-8", errors="surrogateescape") as stream:
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


def _progress(total: int | None, check: bool) -> Progress:
    """A byte-count bar on standard error, shown only when it is a terminal."""
    console = Console(stderr=True, highlight=False, markup=False, emoji=False, soft_wrap=True)
    return Progress(
        TextColumn("checking" if check else "publishing"),
        BarColumn(),
        TextColumn("{task.completed:,.0f}/{task.total:,.0f} bytes" if total else ""),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


async def _publish(settings: Settings, lines: IO[str], total: int | None, check: bool) -> Summary:
    progress = _progress(total, check)
    task = progress.add_task("publish", total=total)
    run = _Run(settings, None if check else publisher_for(settings), progress, task)
    try:
        if run.publisher is not None:
            await _start(run.publisher, settings)
        with run.progress:
            for chunk in _chunks(lines, CHUNK):
                await run.send(run.validate(chunk))
    finally:
        if run.publisher is not None:
            await run.publisher.stop()
    return run.summary


async def _start(publisher: EventPublisher, settings: Settings) -> None:
    try:
        await publisher.start()
    except BrokerUnreachable:
        fail(await explain_kafka_failure(settings.kafka))
    except PublishError as exc:
        fail(str(exc))


@dataclass(slots=True)
class _Run:
    """One ``publish`` run: validates chunks of lines, sends the valid events, counts."""

    settings: Settings
    publisher: EventPublisher | None
    progress: Progress
    task: TaskID
    summary: Summary = field(default_factory=Summary)

    def validate(self, chunk: list[tuple[int, str]]) -> list[tuple[AnyEvent, bytes]]:
        """The valid events of ``chunk`` with their bytes; refused lines are reported."""
        valid = []
        for number, line in chunk:
            self.progress.advance(self.task, len(line.encode("utf-8", "surrogateescape")))
            if not line.strip():
                continue
            value = line.rstrip("\r\n").encode("utf-8", "surrogateescape")
            try:
                event = decode(value, EVENT_ADAPTER, max_bytes=self.settings.ingest.max_event_bytes)
            except EventRejected as exc:
                self.summary.refused.append(number)
                self.progress.console.print(f"line {number}: {exc}")
                continue
            valid.append((event, value))
        return valid

    async def send(self, valid: list[tuple[AnyEvent, bytes]]) -> None:
        if self.publisher is None:
            topics = self.settings.topics
            self.summary.sent.update(topics.source(stream_of(event)) for event, _ in valid)
            return
        try:
            for sent in await self.publisher.send_decoded(valid):
                self.summary.sent[sent.topic] += 1
        except PublishError as exc:
            fail(f"{exc} (after {sum(self.summary.sent.values())} events sent)")
