"""``utxoiq bench``: throughput, latency, memory and CPU of each pipeline, beside the
ceilings of the same machine. Prints a table and writes a JSON file; ``utxoiq bench
compare`` sets such files side by side, ``utxoiq bench report`` renders one as Markdown."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from consumer.cli.bench_curve import curve
from consumer.cli.common import load_settings, run
from consumer.cli.errors import EXIT_USAGE, fail
from consumer.ops.arguments import choose_pipelines
from consumer.settings import Settings
from schemas.topics import Stream

if TYPE_CHECKING:
    from rich.console import Console

    from consumer.bench.run import BenchRun
    from consumer.bench.space import BenchOptions

app = typer.Typer(invoke_without_command=True)

DEFAULT_EVENTS = {Stream.METRICS: 200_000, Stream.FEEDBACK: 100_000, Stream.JOBS: 100_000}
ORDER = (Stream.METRICS, Stream.FEEDBACK, Stream.JOBS)


def parse_pipelines(values: list[str] | None) -> list[Stream]:
    """``metrics,jobs`` or repeated options; every pipeline when none is given."""
    try:
        return choose_pipelines(values, ORDER)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)


@app.callback()
def bench(
    ctx: typer.Context,
    events: int | None = typer.Option(
        None, "--events", "-n", min=1, metavar="N",
        help="Events per kind (default: 200,000 metrics, 100,000 feedback, 100,000 jobs).",
    ),
    pipelines: list[str] = typer.Option(
        None, "--pipelines", "-p", metavar="LIST",
        help="Pipelines to run, e.g. metrics,jobs (default: all three).",
    ),
    output: Path = typer.Option(
        Path("bench-results"), "--output", "-o", help="Directory of the JSON file and logs."
    ),
    skip_latency: bool = typer.Option(
        False, "--skip-latency", help="Skip the paced load (no latency figures)."
    ),
    load_fraction: float = typer.Option(
        0.5, "--load-fraction", min=0.01, max=1.0,
        help="Paced load as a fraction of the measured drain rate.",
    ),
    load_seconds: float = typer.Option(
        15.0, "--load-seconds", min=1.0, help="How long the paced load runs."
    ),
    naive_events: int = typer.Option(
        5_000, "--naive-events", min=1, help="Sample size of the one-transaction-per-event run."
    ),
    in_place: bool = typer.Option(
        False, "--in-place",
        help="Use DATABASE_URL's database itself instead of a dedicated <name>_bench.",
    ),
    yes: bool = typer.Option(
        False, "--yes", help="With --in-place: empty the service tables even if they hold rows."
    ),
    keep_topics: bool = typer.Option(False, "--keep-topics", help="Keep the run's topics."),
    profile: bool = typer.Option(
        False, "--profile", help="Run each consumer under pyinstrument (slower; for profiling)."
    ),
    seed: int = typer.Option(7, "--seed", help="Seed of the generated events."),
    members: int = typer.Option(
        1, "--members", min=1, max=16,
        help="Consumer processes in the group (scale-out on one machine).",
    ),
    repeat: int = typer.Option(
        3, "--repeat", min=1, max=15,
        help="Measure each ceiling and the drain this many times; figures are medians.",
    ),
    preload: int = typer.Option(
        0, "--preload", min=0, metavar="N",
        help="Store N rows in the metrics or feedback table before its drains (outside "
        "the timings; each drain's own rows are removed after it). See docs/growth.md.",
    ),
) -> None:  # fmt: skip
    """Benchmark the pipelines against fetch-only, decode-only, COPY and naive ceilings.

    Runs on a dedicated database (<name>_bench beside DATABASE_URL's, created and
    migrated when missing, emptied each run) and on fresh topics and consumer groups.
    """
    if ctx.invoked_subcommand is not None:
        _refuse_run_options(ctx)
        return
    from rich.console import Console

    from consumer.bench.database import BenchRefused
    from consumer.bench.kafka import FetchStalled
    from consumer.bench.process import ConsumerFailed
    from consumer.bench.report import render, write_json
    from consumer.bench.space import BenchOptions

    streams = parse_pipelines(pipelines)
    counts = {s: events or DEFAULT_EVENTS[s] for s in streams}
    if profile:
        _require_profiler()
    options = BenchOptions(
        counts, streams, output, skip_latency, load_fraction, load_seconds,
        min(naive_events, min(counts.values())), keep_topics, profile, seed, members, repeat,
        preload,
    )  # fmt: skip
    settings = load_settings()
    console = Console(stderr=True)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    try:
        bench_run = run(_bench(settings, options, console, in_place=in_place, yes=yes))
    except BenchRefused as exc:
        fail(str(exc), EXIT_USAGE)
    except (ConsumerFailed, FetchStalled) as exc:
        fail(str(exc))
    render(bench_run, Console())
    typer.echo(f"figures written to {write_json(bench_run, output)}")


@app.command("compare")
def compare(
    files: list[Path] = typer.Argument(..., metavar="RUN.json", help="Runs' JSON files."),
) -> None:
    """Set runs' JSON files side by side, with what else differed between them.

    Every figure of each pipeline they share, the change from the first run
    to the last, then what else differed: commit, options, consumer settings,
    machine and versions, and the machine's own speed (its decode-only and
    naive ceilings)."""
    from rich.console import Console

    from consumer.bench.compare import (
        RunFileError,
        common_pipelines,
        load_run,
        render_comparison,
    )

    if len(files) < 2:
        fail("compare needs at least two runs' JSON files", EXIT_USAGE)
    try:
        runs = [load_run(path) for path in files]
    except RunFileError as exc:
        fail(str(exc), EXIT_USAGE)
    if not common_pipelines(runs):
        fail("these runs share no pipeline: nothing to compare", EXIT_USAGE)
    render_comparison(runs, Console())


app.command("curve")(curve)


@app.command("report")
def report(
    file: Path = typer.Argument(..., metavar="RUN.json", help="A run's JSON file."),
) -> None:
    """Print a run as Markdown: the machine and settings, the figures per pipeline, the
    targets they pass or fail, and how each figure is measured (for docs/benchmark.md)."""
    from consumer.bench.compare import RunFileError, load_run
    from consumer.bench.markdown import render_markdown

    try:
        run_file = load_run(file)
    except RunFileError as exc:
        fail(str(exc), EXIT_USAGE)
    typer.echo(render_markdown(run_file), nl=False)


async def _bench(
    settings: Settings, options: BenchOptions, console: Console, *, in_place: bool, yes: bool
) -> BenchRun:
    from consumer.bench.database import prepare
    from consumer.bench.run import run_bench

    database = await prepare(settings.database, in_place=in_place, yes=yes)
    console.print(f"database: {database.masked_url()}", highlight=False)
    bench_settings = Settings(settings.kafka, database, settings.topics, settings.ingest)
    return await run_bench(bench_settings, options, console)


def _refuse_run_options(ctx: typer.Context) -> None:
    """A subcommand given options of the benchmark run (``bench -n 5 compare ...``)
    would ignore them: say so instead."""
    given = [
        "--" + name.replace("_", "-")
        for name in ctx.params
        if getattr(ctx.get_parameter_source(name), "name", "DEFAULT") != "DEFAULT"
    ]
    if given:
        where = f"'bench {ctx.invoked_subcommand}'"
        fail(f"{', '.join(given)}: options of the benchmark run, not of {where}", EXIT_USAGE)


def _require_profiler() -> None:
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        fail("--profile needs pyinstrument (pip install pyinstrument)", EXIT_USAGE)
