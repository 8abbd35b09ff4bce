"""Comparing benchmark runs from their JSON files (``utxoiq bench compare``).

Figures on a shared machine move with its load from one minute to the next, so a
comparison says what else differed between the runs: the commit, the options and
settings, the machine, and how fast the machine itself was, read off the ceilings that
the project's code does not run (fetch-only, write-only and the naive baseline), and off
the decode-only ceiling between runs of one commit only, as it runs the project's own
decoder. When those moved, the ratios to the ceilings measured in the same run are the
figures to compare.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from rich import box
from rich.console import Console
from rich.table import Table

from consumer.bench.report import MISSING, number

FIGURE_MIN_WIDTH = 14
"""The narrowest the figures' names are wrapped to on a narrow terminal."""

SPEED_SPREAD = 1.15
"""Runs whose ceilings differ by more than this factor ran on a machine of another speed."""

Getter = Callable[[Mapping[str, Any]], float | None]


class RunFileError(ValueError):
    """A file that is not a readable benchmark run."""


@dataclass(frozen=True, slots=True)
class RunFile:
    path: Path
    data: Mapping[str, Any]

    @property
    def run_id(self) -> str:
        return str(self.data.get("run_id", self.path.stem))

    @property
    def label(self) -> str:
        """The run's column header: its time and commit."""
        return f"{self.run_id.removeprefix('bench-')}\n{self.commit}"

    @property
    def commit(self) -> str:
        git = (self.data.get("machine") or {}).get("git") or {}
        commit = str(git.get("commit") or "?")[:7]
        return f"{commit}+dirty" if git.get("dirty") else commit

    def pipeline(self, name: str) -> Mapping[str, Any] | None:
        for result in self.data["pipelines"]:
            if result["pipeline"] == name:
                return dict(result)
        return None

    def pipelines(self) -> list[str]:
        return [str(result["pipeline"]) for result in self.data["pipelines"]]


def load_run(path: Path) -> RunFile:
    """Read one run's JSON file; ``RunFileError`` (one line) when it is not one."""
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise RunFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise RunFileError(f"{path}: a directory, not a run's JSON file") from None
    except OSError as exc:
        raise RunFileError(f"{path}: {exc.strerror or exc}") from None
    except orjson.JSONDecodeError as exc:
        raise RunFileError(f"{path}: not JSON ({exc})") from None
    if not isinstance(data, dict) or not isinstance(data.get("pipelines"), list):
        raise RunFileError(f"{path}: not a benchmark run (no 'pipelines' list)")
    if not all(
        isinstance(result, dict) and isinstance(result.get("pipeline"), str)
        for result in data["pipelines"]
    ):
        raise RunFileError(f"{path}: not a benchmark run (a pipeline without its name)")
    return RunFile(path, data)


def _at(*keys: str, scale: float = 1.0) -> Getter:
    def get(result: Mapping[str, Any]) -> float | None:
        value: Any = result
        for key in keys:
            if not isinstance(value, Mapping):
                return None
            value = value.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) * scale

    return get


def _ceiling(name: str) -> Getter:
    return _at("ceilings", name, "events_per_second")


@dataclass(frozen=True, slots=True)
class Figure:
    label: str
    get: Getter
    digits: int = 0


FIGURES = [
    Figure("drain rate, events/s", _at("drain", "events_per_second")),
    Figure("fetch-only, events/s", _ceiling("fetch_only")),
    Figure("decode-only, events per CPU s", _ceiling("decode_only")),
    Figure("write-only COPY, rows/s", _ceiling("write_only")),
    Figure("naive 1 tx per event, events/s", _ceiling("naive_baseline")),
    Figure("drain / min(fetch, write)", _at("ratios", "drain_over_min_fetch_write"), 2),
    Figure("drain / naive", _at("ratios", "drain_over_naive"), 1),
    Figure("paced load, events/s", _at("latency", "achieved_rate")),
    Figure("event age p50, ms", _at("latency", "p50_ms")),
    Figure("event age p99, ms", _at("latency", "p99_ms")),
    Figure("event age max, ms", _at("latency", "max_ms")),
    Figure("paced producer CPU, us/event", _at("latency", "generator_cpu_us_per_event"), 2),
    Figure(
        "consumer CPU under paced load, us/event",
        _at("latency", "consumer_cpu_us_per_event"),
        2,
    ),
    Figure("peak RSS, MiB", _at("peak_rss_bytes", scale=1 / 2**20), 1),
    Figure("CPU s per million events", _at("drain", "cpu_seconds_per_million_events"), 1),
]

MACHINE_GAUGES = {
    "fetch-only ceiling (client and broker)": _ceiling("fetch_only"),
    "write-only ceiling (COPY)": _ceiling("write_only"),
    "naive baseline (round trips)": _ceiling("naive_baseline"),
}
"""Ceilings that run none of the project's code (aiokafka's own records; rows the
benchmark builds, copied into the tables as they are): how fast the machine ran,
whatever the runs' commits."""

SAME_CODE_GAUGES = {"decode-only ceiling (CPU)": _ceiling("decode_only")}
"""The decode-only ceiling runs the project's decoder, so it gauges the machine only
between runs of one commit; between commits it moves with the decoder."""


def change(first: float | None, last: float | None) -> str:
    """The last run's figure against the first's, as a signed percentage."""
    if first is None or last is None or first == 0 or math.isnan(first) or math.isnan(last):
        return MISSING
    return f"{round((last / first - 1) * 100):+d}%"


def figure_rows(runs: Sequence[RunFile], pipeline: str) -> list[tuple[str, list[str], str]]:
    """Per figure: its label, one cell per run, and the last run against the first."""
    results = [run.pipeline(pipeline) or {} for run in runs]
    rows = []
    for figure in FIGURES:
        values = [figure.get(result) for result in results]
        if all(v is None for v in values):
            continue
        cells = [number(v, figure.digits) for v in values]
        rows.append((figure.label, cells, change(values[0], values[-1])))
    return rows


def common_pipelines(runs: Sequence[RunFile]) -> list[str]:
    """Pipelines measured in every run, in the first run's order."""
    present = [set(run.pipelines()) for run in runs]
    return [p for p in runs[0].pipelines() if all(p in names for names in present)]


def _flatten(prefix: str, value: Any, into: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), inner, into)
    else:
        into[prefix] = value


CONDITIONS = {
    "machine": (
        "git", "cpu_model", "logical_cores", "physical_cores", "memory_bytes", "os", "python",
        "packages", "kafka", "postgresql",
    ),
    "options": None,
    "settings": None,
}  # fmt: skip
"""What else a run's figures depend on: the parts of its file compared between runs
(None: all of that part; the machine's load average at the start is left out)."""


def conditions(run: RunFile) -> dict[str, Any]:
    """The run's options, consumer settings and machine, flattened to dotted names."""
    flat: dict[str, Any] = {}
    for part, keys in CONDITIONS.items():
        section = run.data.get(part) or {}
        chosen = section if keys is None else {k: section.get(k) for k in keys if k in section}
        _flatten(part, chosen, flat)
    commit = flat.get("machine.git.commit")
    if isinstance(commit, str):
        flat["machine.git.commit"] = commit[:7]  # as in the column headers
    return flat


def differences(runs: Sequence[RunFile], pipelines: Sequence[str]) -> list[str]:
    """One line per condition that is not the same in every run (of the events options,
    only those of ``pipelines``, the ones compared)."""
    each = [conditions(run) for run in runs]
    compared = {f"options.events.{p}" for p in pipelines}
    names = sorted(
        name
        for name in {name for flat in each for name in flat}
        if not name.startswith("options.events.") or name in compared
    )
    lines = []
    for name in names:
        values = [flat.get(name) for flat in each]
        if any(v != values[0] for v in values[1:]):
            lines.append(f"{name}: " + " / ".join(MISSING if v is None else str(v) for v in values))
    return lines


def speed_notes(runs: Sequence[RunFile], pipelines: Sequence[str]) -> list[str]:
    """Where the machine itself ran at another speed between the runs."""
    gauges = dict(MACHINE_GAUGES)
    if len({run.commit for run in runs}) == 1:
        gauges.update(SAME_CODE_GAUGES)
    notes = []
    for pipeline in pipelines:
        results = [run.pipeline(pipeline) or {} for run in runs]
        for name, get in gauges.items():
            values = [v for v in (get(r) for r in results) if v]
            if len(values) >= 2 and max(values) / min(values) > SPEED_SPREAD:
                notes.append(
                    f"{pipeline}: the {name} ranged {min(values):,.0f}-{max(values):,.0f} "
                    f"({max(values) / min(values):.2f}x)"
                )
    return notes


CHANGE_HEADER = "last vs\nfirst"


def _widest(cells: Sequence[str]) -> int:
    return max(len(line) for cell in cells for line in cell.splitlines())


def render_comparison(runs: Sequence[RunFile], console: Console) -> None:
    """A table per pipeline measured in every run, then what differed between the runs.

    On a terminal the figures' names wrap to fit its width, but no number is cut: with
    too many runs for the width, the lines are longer than it. A file or a pipe gets
    the table at its full width."""
    pipelines = common_pipelines(runs)
    for pipeline in pipelines:
        rows = figure_rows(runs, pipeline)
        table = Table(
            title=pipeline, title_justify="left", box=box.SIMPLE_HEAD, collapse_padding=True
        )
        table.add_column("figure", min_width=FIGURE_MIN_WIDTH)
        for index, run in enumerate(runs):
            cells = [run.label, *(row[1][index] for row in rows)]
            table.add_column(run.label, justify="right", min_width=_widest(cells))
        deltas = [CHANGE_HEADER, *(row[2] for row in rows)]
        table.add_column(CHANGE_HEADER, justify="right", min_width=_widest(deltas))
        for label, cells, delta in rows:
            table.add_row(label, *cells, delta)
        fits = console.measure(table, options=console.options.update_width(10_000))
        wanted = fits.minimum if console.is_terminal else fits.maximum
        console.width = max(console.width, wanted)
        console.print(table)
    missing = sorted({p for run in runs for p in run.pipelines()} - set(pipelines))
    if missing:
        console.print(f"not in every run: {', '.join(missing)}", markup=False, highlight=False)
    differ = differences(runs, pipelines)
    console.print(
        "differing between the runs:" + ("" if differ else " nothing else"),
        markup=False,
        highlight=False,
    )
    for line in differ:
        console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    speeds = speed_notes(runs, pipelines)
    if speeds:
        console.print(
            "the machine ran at other speeds (compare the ratios to the ceilings rather "
            "than the rates):",
            highlight=False,
        )
        for line in speeds:
            console.print(f"  {line}", markup=False, highlight=False)
