"""``utxoiq bench curve``: the drain rate as the table grows (``consumer.bench.curve``)."""

from __future__ import annotations

import logging
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from consumer.bench.workload import MetricTimes
from consumer.cli.common import load_settings, run
from consumer.cli.errors import EXIT_USAGE, fail
from consumer.settings import Settings
from schemas.topics import Stream

if TYPE_CHECKING:
    from rich.console import Console

    from consumer.bench.curve import CurveOptions, CurveRun

CURVED = (Stream.METRICS, Stream.FEEDBACK)
DEFAULT_EVENTS = {Stream.METRICS: 200_000, Stream.FEEDBACK: 100_000}
SUFFIXES = {"k": 1_000, "m": 1_000_000}


def parse_count(text: str, option: str) -> int:
    """``5M``, ``500k``, ``5_000_000``: a row count."""
    part = text.strip().lower().replace("_", "")
    scale = SUFFIXES.get(part[-1:], 1)
    digits = part[:-1] if scale > 1 else part
    if not digits.isdigit():
        raise ValueError(f"{option}: {text.strip()!r} is not a row count (e.g. 0,10M,50M)")
    return int(digits) * scale


def parse_levels(text: str) -> list[int]:
    """``0,10M,50000000``: ascending row counts (``k`` and ``M`` allowed)."""
    levels = [parse_count(part, "--rows") for part in text.split(",")]
    if any(b <= a for a, b in pairwise(levels)):
        raise ValueError("--rows: the levels must ascend (rows are only ever added)")
    return levels


def parse_times(text: str, stream: Stream) -> list[MetricTimes]:
    """``live,backfill``: the kinds of sample time to drain (metrics only)."""
    try:
        times = [MetricTimes(part.strip().lower()) for part in text.split(",")]
    except ValueError:
        known = ", ".join(t.value for t in MetricTimes)
        raise ValueError(f"--times: {text!r} is not a list of {known}") from None
    if stream is not Stream.METRICS and times != [MetricTimes.LIVE]:
        raise ValueError("--times backfill applies to metrics only")
    return list(dict.fromkeys(times))


def curve(
    pipeline: str = typer.Option(
        "metrics", "--pipeline", "-p", help="metrics or feedback."
    ),
    rows: str = typer.Option(
        "0,10M", "--rows", metavar="LIST",
        help="Rows stored before each step's drains, ascending (e.g. 0,10M,50M).",
    ),
    times: str | None = typer.Option(
        None, "--times", metavar="LIST",
        help="Sample times drained at each step: live, backfill (metrics; default both).",
    ),
    events: int | None = typer.Option(
        None, "--events", "-n", min=1, metavar="N",
        help="Events per drain (default: 200,000 metrics, 100,000 feedback).",
    ),
    repeat: int = typer.Option(3, "--repeat", min=1, max=15, help="Drains per step and kind."),
    drop_day: str = typer.Option(
        "0", "--drop-day", metavar="N",
        help="Then drop a day of N samples while a drain runs (metrics).",
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the generated events."),
    output: Path = typer.Option(
        Path("bench-results"), "--output", "-o", help="Directory of the JSON file and logs."
    ),
) -> None:  # fmt: skip
    """The cost curve: drain rates as the table grows, against the empty table's.

    One run on the dedicated <name>_bench database (emptied first): the preload is
    brought up to each level in turn (outside the timings) and the workload drained
    --repeat times at each. See docs/growth.md."""
    from rich.console import Console

    from consumer.bench.curve import CurveOptions, render_curve
    from consumer.bench.report import write_json

    try:
        stream = Stream(pipeline.strip().lower())
        if stream not in CURVED:
            raise ValueError
    except ValueError:
        fail(f"--pipeline: {pipeline!r}: the curve is for metrics or feedback", EXIT_USAGE)
    try:
        levels = parse_levels(rows)
        drop_rows = parse_count(drop_day, "--drop-day")
        kinds = parse_times(
            times or ("live,backfill" if stream is Stream.METRICS else "live"), stream
        )
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    if drop_rows and stream is not Stream.METRICS:
        fail("--drop-day applies to metrics only", EXIT_USAGE)
    options = CurveOptions(
        stream, levels, kinds, events or DEFAULT_EVENTS[stream], repeat, output, seed, drop_rows
    )
    console = Console(stderr=True)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    curve_run = run(_curve(load_settings(), options, console))
    render_curve(curve_run, Console())
    typer.echo(f"figures written to {write_json(curve_run, output)}")


async def _curve(settings: Settings, options: CurveOptions, console: Console) -> CurveRun:
    from consumer.bench.curve import run_curve
    from consumer.bench.database import prepare

    database = await prepare(settings.database, in_place=False, yes=False)
    console.print(f"database: {database.masked_url()}", highlight=False)
    bench = Settings(settings.kafka, database, settings.topics, settings.ingest, settings.metrics)
    return await run_curve(bench, options, console)
