"""``utxoiq bench report``: one run's file as the Markdown the benchmark page quotes."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import orjson

from consumer.bench.compare import load_run
from consumer.bench.markdown import render_markdown
from tests.unit.test_bench_compare import run_file


def test_the_report_states_conditions_figures_and_targets_without_commit_or_time(
    tmp_path: Path,
) -> None:
    path = run_file(tmp_path, "20261129-095128", 100_000.0)
    text = render_markdown(load_run(path))
    lines = text.splitlines()
    assert lines[0].startswith("Measured on 2 logical cores, 24 GiB of memory")
    assert "aiokafka 0.14.0" in lines[0]
    assert "`batch_max_records=5000`" in lines[0] and "`repeat=3`" in lines[0]
    assert "| figure | metrics |" in lines
    assert "| drain rate, events/s | 100,000 |" in lines
    assert "| drain / min(fetch, write) | 0.67 |" in lines
    assert "| drain rate >=100000 events/s | PASS |" in lines
    assert any(line.startswith("- **drain**: the real service") for line in lines)
    for absent in ("0123456", "20261129", "095128"):
        assert absent not in text


def test_the_command_prints_it_and_refuses_a_file_that_is_not_a_run(tmp_path: Path) -> None:
    path = run_file(tmp_path, "a", 90_000.0)
    command = [sys.executable, "-m", "consumer.cli.main", "bench", "report"]
    done = subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "| drain rate, events/s | 90,000 |" in done.stdout
    done = subprocess.run([*command, str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert done.stderr.strip().endswith("a directory, not a run's JSON file")
    assert "Traceback" not in done.stderr


def test_a_target_with_other_bars_per_pipeline_names_each_bar(tmp_path: Path) -> None:
    path = run_file(tmp_path, "a", 100_000.0)
    data = orjson.loads(path.read_bytes())
    feedback = copy.deepcopy(data["pipelines"][0])
    feedback["pipeline"] = "feedback"
    for target in feedback["targets"]:
        if target["name"] == "drain rate":
            target["bar"], target["passed"] = ">=60000", True
    data["pipelines"].append(feedback)
    path.write_bytes(orjson.dumps(data))
    lines = render_markdown(load_run(path)).splitlines()
    assert "| drain rate | PASS (>=100000 events/s) | PASS (>=60000 events/s) |" in lines
    assert "| peak RSS <=200 MiB | PASS | PASS |" in lines


def test_the_machine_line_names_the_postgresql_version_not_its_settings(tmp_path: Path) -> None:
    """A run stores PostgreSQL's settings beside its version; the page names the version."""
    path = run_file(tmp_path, "20261129-095128", 100_000.0)
    data = orjson.loads(path.read_bytes())
    data["machine"]["postgresql"] = {
        "server_version": "15.18 (Debian 15.18-0+deb12u1)",
        "fsync": "on",
    }
    path.write_bytes(orjson.dumps(data))
    first = render_markdown(load_run(path)).splitlines()[0]
    assert "PostgreSQL 15.18," in first and "fsync" not in first
