"""One benchmark run as a Markdown section (``utxoiq bench report``), for documentation.

It states what the figures were measured on and with which settings, the figures, and
how they stand against the targets; not when or from which commit, so a page quoting it
reads the same whatever run it came from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from consumer.bench.compare import FIGURES, RunFile
from consumer.bench.report import MISSING, number
from consumer.bench.results import METHODS


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(map(_cell, header)) + " |"]
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    lines.extend("| " + " | ".join(map(_cell, row)) + " |" for row in rows)
    return lines


def _server_version(postgresql: Any) -> str:
    """The server's version number from a run's ``postgresql`` entry (its settings, or a
    bare version in older files)."""
    if isinstance(postgresql, Mapping):
        return str(postgresql.get("server_version", "")).split(" ")[0]
    return str(postgresql)


def machine_line(machine: Mapping[str, Any]) -> str:
    """Cores, memory and the versions that matter, in one sentence."""
    cores = machine.get("logical_cores")
    memory = machine.get("memory_bytes")
    packages = machine.get("packages") or {}
    parts = [
        f"{cores} logical cores" if cores else None,
        f"{memory / 2**30:.0f} GiB of memory" if isinstance(memory, int | float) else None,
        f"Kafka {machine['kafka']}" if machine.get("kafka") else None,
        f"PostgreSQL {_server_version(machine['postgresql'])}"
        if machine.get("postgresql")
        else None,
        f"Python {machine['python']}" if machine.get("python") else None,
        f"aiokafka {packages['aiokafka']}" if packages.get("aiokafka") else None,
        f"asyncpg {packages['asyncpg']}" if packages.get("asyncpg") else None,
    ]
    return ", ".join(p for p in parts if p) or "an undescribed machine"


def settings_line(run: RunFile) -> str:
    settings = run.data.get("settings") or {}
    options = run.data.get("options") or {}
    chosen = {**settings, "members": options.get("members", 1), "repeat": options.get("repeat", 1)}
    return ", ".join(f"`{k}={v}`" for k, v in chosen.items())


def figures_rows(run: RunFile) -> list[list[str]]:
    results = [run.pipeline(name) or {} for name in run.pipelines()]
    rows = []
    for figure in FIGURES:
        values = [figure.get(result) for result in results]
        if any(v is not None for v in values):
            rows.append([figure.label, *(number(v, figure.digits) for v in values)])
    return rows


def target_rows(run: RunFile) -> list[list[str]]:
    """One row per target, one PASS, FAIL or ``-`` per pipeline; the bar in the target's
    name when every pipeline is held to the same one, else beside each verdict."""
    names = run.pipelines()
    cells: dict[str, dict[str, tuple[str, str]]] = {}
    for name in names:
        for target in (run.pipeline(name) or {}).get("targets") or []:
            passed = target.get("passed")
            verdict = MISSING if passed is None else ("PASS" if passed else "FAIL")
            bar = f"{target.get('bar', '')} {target.get('unit', '')}".strip()
            cells.setdefault(target["name"], {})[name] = (verdict, bar)
    rows = []
    for target, by in cells.items():
        bars = {bar for verdict, bar in by.values() if verdict != MISSING}
        if len(bars) <= 1:
            label = f"{target} {next(iter(bars), '')}".strip()
            rows.append([label, *(by.get(n, (MISSING, ""))[0] for n in names)])
        else:
            row = [
                f"{v} ({b})" if v != MISSING else v
                for v, b in (by.get(n, (MISSING, "")) for n in names)
            ]
            rows.append([target, *row])
    return rows


def render_markdown(run: RunFile) -> str:
    """The run's conditions, its figures, its targets, and how each figure is measured."""
    names = run.pipelines()
    lines = [
        f"Measured on {machine_line(run.data.get('machine') or {})}; consumer settings "
        f"{settings_line(run)}.",
        "",
        *markdown_table(["figure", *names], figures_rows(run)),
    ]
    targets = target_rows(run)
    if targets:
        lines += ["", *markdown_table(["target", *names], targets)]
    lines += ["", "How each figure is measured:", ""]
    lines += [f"- **{name}**: {text}." for name, text in METHODS.items()]
    return "\n".join(lines) + "\n"
