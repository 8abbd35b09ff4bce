"""``utxoiq status``: each pipeline's group and partitions, Kafka's side and PostgreSQL's."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import orjson
import typer
from rich.console import Console
from rich.live import Live

from consumer.cli.common import load_settings
from consumer.cli.errors import EXIT_USAGE, fail
from consumer.cli.guard import guarded
from consumer.ops.arguments import choose_pipelines
from consumer.ops.status import StatusReader, status_reader
from consumer.ops.status_view import status_dict, status_view
from consumer.settings import Settings
from schemas.topics import Stream

ORDER = (Stream.JOBS, Stream.FEEDBACK, Stream.METRICS)
PIPE_WIDTH = 120


def status(
    pipelines: list[str] = typer.Option(
        None, "--pipeline", "-p", metavar="LIST",
        help="Only these pipelines, e.g. metrics or jobs,feedback (default: all three).",
    ),
    as_json: bool = typer.Option(False, "--json", help="JSON instead of tables."),
    watch: bool = typer.Option(
        False, "--watch", "-w", help="Refresh in place until Ctrl-C (with --json: one line each)."
    ),
    interval: float = typer.Option(
        2.0, "--interval", min=0.5, metavar="SECONDS", help="Time between refreshes."
    ),
) -> None:  # fmt: skip
    """Show each pipeline's consumer group, members and partitions.

    Per partition: the position stored in PostgreSQL, the group's committed Kafka offset,
    the log's start and end, the lag, the age of the last commit and the dead letters
    pending. Reads only and joins no group, so it runs beside the consumers.
    """
    streams = parse_pipelines(pipelines)
    settings = load_settings()
    try:
        guarded(_show(settings, streams, as_json=as_json, watch=watch, interval=interval))
    except KeyboardInterrupt:
        return


def parse_pipelines(values: list[str] | None) -> list[Stream]:
    try:
        return choose_pipelines(values, ORDER)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)


async def _show(
    settings: Settings, streams: list[Stream], *, as_json: bool, watch: bool, interval: float
) -> None:
    async with status_reader(settings) as reader:
        if as_json:
            await _print_json(reader, streams, watch, interval)
        elif watch:
            await _watch(reader, streams, interval)
        else:
            report = await reader.snapshot(streams, datetime.now(UTC))
            _console().print(status_view(report))


async def _print_json(
    reader: StatusReader, streams: list[Stream], watch: bool, interval: float
) -> None:
    while True:
        report = await reader.snapshot(streams, datetime.now(UTC))
        option = 0 if watch else orjson.OPT_INDENT_2
        typer.echo(orjson.dumps(status_dict(report), option=option).decode(), nl=True)
        if not watch:
            return
        await asyncio.sleep(interval)


async def _watch(reader: StatusReader, streams: list[Stream], interval: float) -> None:
    """Redraw the same screen area every ``interval`` seconds."""
    report = await reader.snapshot(streams, datetime.now(UTC))
    with Live(status_view(report), console=_console(), auto_refresh=False) as live:
        while True:
            await asyncio.sleep(interval)
            report = await reader.snapshot(streams, datetime.now(UTC))
            live.update(status_view(report), refresh=True)


def _console() -> Console:
    """A terminal's own width; a pipe gets lines wide enough for every column."""
    console = Console(highlight=False, markup=False, emoji=False)
    if not console.is_terminal:
        console.width = max(console.width, PIPE_WIDTH)
    return console
