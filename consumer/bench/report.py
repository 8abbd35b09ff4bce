"""The run on the terminal (one column per pipeline) and as a JSON file."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

from consumer.bench.results import Check, PipelineResult, Rate

if TYPE_CHECKING:
    from consumer.bench.run import BenchRun

MISSING = "-"
Row = tuple[str, list[str]]


def number(value: float | None, digits: int = 0) -> str:
    if value is None or math.isnan(value):
        return MISSING
    return f"{value:,.{digits}f}"


def per_second(rate: Rate | None) -> str:
    return MISSING if rate is None else number(rate.per_second)


def verdict(check: Check) -> str:
    """``PASS`` or ``FAIL``; nothing when the figure was not measured."""
    if check.passed is None:
        return ""
    return "PASS" if check.passed else "FAIL"


def with_verdict(text: str, result: PipelineResult, name: str) -> str:
    for check in result.checks():
        if check.name == name and check.passed is not None:
            return f"{text} {verdict(check)}"
    return text


def _rss(result: PipelineResult) -> str:
    if result.peak_rss_bytes is None:
        return MISSING
    return with_verdict(number(result.peak_rss_bytes / 2**20, 1), result, "peak RSS")


def _batches(result: PipelineResult) -> str:
    drain = result.drain
    if drain is None or not drain.batches:
        return MISSING
    return f"{drain.batches:,} (mean {drain.rate.events / drain.batches:,.0f})"


def _latency(
    name: str, check: str | None = None, digits: int = 0
) -> Callable[[PipelineResult], str]:
    def cell(result: PipelineResult) -> str:
        if result.latency is None:
            return MISSING
        text = number(float(getattr(result.latency, name)), digits)
        return text if check is None else with_verdict(text, result, check)

    return cell


def _offered(result: PipelineResult) -> str:
    return MISSING if result.latency is None else number(result.latency.achieved_rate)


def _cpu(result: PipelineResult) -> str:
    return number(None if result.drain is None else result.drain.cpu_seconds_per_million, 1)


FIGURES: list[tuple[str, Callable[[PipelineResult], str]]] = [
    ("events", lambda r: number(r.events)),
    (
        "drain rate, events/s (>=100k metrics, >=60k others)",
        lambda r: with_verdict(number(r.drain_rate), r, "drain rate"),
    ),
    ("fetch-only, events/s", lambda r: per_second(r.ceilings.fetch_only)),
    ("decode-only, events per CPU s", lambda r: per_second(r.ceilings.decode_only)),
    ("write-only COPY, rows/s", lambda r: per_second(r.ceilings.write_only)),
    ("naive 1 tx per event, events/s", lambda r: per_second(r.ceilings.naive)),
    (
        "drain / min(fetch, write) (>=0.7 metrics)",
        lambda r: with_verdict(number(r.over_bound, 2), r, "drain / min(fetch-only, write-only)"),
    ),
    (
        "drain / naive (>=40)",
        lambda r: with_verdict(number(r.over_naive, 1), r, "drain / naive baseline"),
    ),
    ("paced load, events/s", _offered),
    ("event age p50, ms", _latency("p50_ms")),
    ("event age p99, ms (<=250)", _latency("p99_ms", "p99 event age at commit")),
    ("event age max, ms", _latency("max_ms")),
    ("paced producer CPU, us/event", _latency("generator_cpu_us_per_event", digits=2)),
    ("consumer CPU under paced load, us/event", _latency("consumer_cpu_us_per_event", digits=2)),
    ("peak RSS, MiB (<=200)", _rss),
    ("CPU s per million events", _cpu),
    ("batches (mean records)", _batches),
]


def table_rows(results: list[PipelineResult]) -> list[Row]:
    """One row per figure, one cell per pipeline (plain text)."""
    return [(label, [cell(r) for r in results]) for label, cell in FIGURES]


def render(run: BenchRun, console: Console) -> None:
    table = Table(title=f"utxoiq bench {run.run_id}", title_justify="left")
    table.add_column("figure")
    for result in run.results:
        table.add_column(result.pipeline, justify="right")
    for label, cells in table_rows(run.results):
        table.add_row(label, *(_styled(cell) for cell in cells))
    console.print(table)
    settings = ", ".join(f"{k}={v}" for k, v in run.meta["settings"].items())
    options = run.meta["options"]
    repeat = options.get("repeat", 1)
    measured = (
        f"drain and ceilings are medians of {repeat} repetitions, latency the window with "
        f"the median p99 of {repeat}, peak RSS the largest of all"
        if repeat > 1
        else "each figure measured once"
    )
    console.print(
        f"consumer settings: {settings}, members={options.get('members', 1)}; {measured}",
        highlight=False,
        soft_wrap=True,
    )
    for result in run.results:
        for note in result.notes:
            console.print(f"{result.pipeline}: {note}", highlight=False)


def _styled(cell: str) -> Text:
    text = Text(cell)
    text.highlight_words(["PASS"], "green")
    text.highlight_words(["FAIL"], "bold red")
    return text


class RunRecord(Protocol):
    """A run that can be written: its name and its figures."""

    @property
    def run_id(self) -> str: ...

    def as_dict(self) -> dict[str, Any]: ...


def write_json(run: RunRecord, directory: Path) -> Path:
    """``<directory>/<run id>.json``, the run's figures indented."""
    path = directory / f"{run.run_id}.json"
    path.write_bytes(orjson.dumps(run.as_dict(), option=orjson.OPT_INDENT_2))
    return path
