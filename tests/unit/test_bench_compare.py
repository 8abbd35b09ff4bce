"""``utxoiq bench compare``: runs' JSON files side by side, and what else differed."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from consumer.bench.compare import (
    RunFileError,
    change,
    common_pipelines,
    differences,
    figure_rows,
    load_run,
    speed_notes,
)
from consumer.bench.run import BenchRun
from tests.unit.test_bench_report import metrics_result

MACHINE = {
    "logical_cores": 2,
    "memory_bytes": 24 * 2**30,
    "python": "3.11.7",
    "packages": {"aiokafka": "0.14.0"},
    "git": {"commit": "0123456789abcdef", "dirty": False},
}
SETTINGS = {"batch_max_records": 5000, "write_lanes": 3}
OPTIONS = {"events": {"metrics": 200_000}, "members": 1, "repeat": 3, "seed": 7}


def run_file(tmp_path: Path, name: str, drain_rate: float, **meta: Any) -> Path:
    """A run's file as ``utxoiq bench`` writes it (``meta`` replaces parts of its header)."""
    base = {"machine": MACHINE, "settings": SETTINGS, "options": OPTIONS}
    run = BenchRun(f"bench-{name}", {**copy.deepcopy(base), **meta}, [metrics_result(drain_rate)])
    path = tmp_path / f"{name}.json"
    path.write_bytes(orjson.dumps(run.as_dict()))
    return path


def rows_by_label(rows: list[tuple[str, list[str], str]]) -> dict[str, tuple[list[str], str]]:
    return {label: (cells, delta) for label, cells, delta in rows}


def test_figures_sit_side_by_side_with_the_change_from_first_to_last(tmp_path: Path) -> None:
    runs = [
        load_run(run_file(tmp_path, "a", 100_000.0)),
        load_run(run_file(tmp_path, "b", 80_000.0)),
        load_run(run_file(tmp_path, "c", 120_000.0)),
    ]
    rows = rows_by_label(figure_rows(runs, "metrics"))
    assert rows["drain rate, events/s"] == (["100,000", "80,000", "120,000"], "+20%")
    assert rows["drain / min(fetch, write)"] == (["0.67", "0.53", "0.80"], "+20%")
    assert rows["peak RSS, MiB"] == (["150.0", "150.0", "150.0"], "+0%")
    assert rows["event age p99, ms"][0] == ["240", "240", "240"]


def test_a_change_that_rounds_to_nothing_is_plus_zero() -> None:
    assert change(150.0, 149.5) == "+0%"
    assert change(100.0, 99.0) == "-1%"
    assert change(None, 1.0) == change(0.0, 1.0) == "-"


def test_a_figure_missing_from_a_run_is_a_dash_and_has_no_change(tmp_path: Path) -> None:
    bare = load_run(run_file(tmp_path, "a", 100_000.0))
    data = orjson.loads(run_file(tmp_path, "b", 90_000.0).read_bytes())
    data["pipelines"][0]["latency"] = None
    (tmp_path / "b.json").write_bytes(orjson.dumps(data))
    rows = rows_by_label(figure_rows([bare, load_run(tmp_path / "b.json")], "metrics"))
    assert rows["event age p99, ms"] == (["240", "-"], "-")


def test_what_else_differed_is_named_and_what_did_not_is_left_out(tmp_path: Path) -> None:
    one = load_run(run_file(tmp_path, "a", 100_000.0))
    two = load_run(
        run_file(
            tmp_path,
            "b",
            100_000.0,
            options={**OPTIONS, "members": 2, "events": {"metrics": 400_000, "jobs": 5}},
            settings={**SETTINGS, "write_lanes": 6},
        )
    )
    assert differences([one, two], ["metrics"]) == [
        "options.events.metrics: 200000 / 400000",
        "options.members: 1 / 2",
        "settings.write_lanes: 3 / 6",
    ]
    assert differences([one, one], ["metrics"]) == []


def test_a_profiled_or_latency_free_run_and_another_commit_are_named(tmp_path: Path) -> None:
    """Every option counts (a profiled run is slower), and so does the commit."""
    one = load_run(run_file(tmp_path, "a", 100_000.0))
    other_commit = {**MACHINE, "git": {"commit": "fedcba9876543210", "dirty": True}}
    two = load_run(
        run_file(
            tmp_path,
            "b",
            100_000.0,
            machine=other_commit,
            options={**OPTIONS, "profile": True, "skip_latency": True},
        )
    )
    assert differences([one, two], ["metrics"]) == [
        "machine.git.commit: 0123456 / fedcba9",
        "machine.git.dirty: False / True",
        "options.profile: - / True",
        "options.skip_latency: - / True",
    ]
    assert two.commit == "fedcba9+dirty"


def test_runs_on_a_machine_of_another_speed_are_pointed_out(tmp_path: Path) -> None:
    fast = orjson.loads(run_file(tmp_path, "a", 100_000.0).read_bytes())
    slow = copy.deepcopy(fast)
    slow["pipelines"][0]["ceilings"]["decode_only"]["events_per_second"] = 125_000.0
    slow["pipelines"][0]["ceilings"]["naive_baseline"]["events_per_second"] = 2_400.0
    (tmp_path / "slow.json").write_bytes(orjson.dumps(slow))
    runs = [load_run(tmp_path / "a.json"), load_run(tmp_path / "slow.json")]
    assert speed_notes(runs, ["metrics"]) == [
        "metrics: the decode-only ceiling (CPU) ranged 125,000-250,000 (2.00x)"
    ]  # the naive baselines (2,500 and 2,400 events/s) are within 15% of each other


def test_between_commits_the_speed_is_read_off_the_ceilings_that_run_no_project_code(
    tmp_path: Path,
) -> None:
    """The decode-only ceiling runs the project's decoder: a faster decoder in the later
    commit is not a faster machine, but a slower COPY is a slower machine."""
    before = orjson.loads(run_file(tmp_path, "a", 100_000.0).read_bytes())
    after = copy.deepcopy(before)
    after["machine"]["git"]["commit"] = "fedcba9876543210"
    after["pipelines"][0]["ceilings"]["decode_only"]["events_per_second"] = 500_000.0
    (tmp_path / "after.json").write_bytes(orjson.dumps(after))
    runs = [load_run(tmp_path / "a.json"), load_run(tmp_path / "after.json")]
    assert speed_notes(runs, ["metrics"]) == []
    after["pipelines"][0]["ceilings"]["write_only"]["events_per_second"] /= 2
    (tmp_path / "after.json").write_bytes(orjson.dumps(after))
    runs = [load_run(tmp_path / "a.json"), load_run(tmp_path / "after.json")]
    (note,) = speed_notes(runs, ["metrics"])
    assert note.startswith("metrics: the write-only ceiling (COPY) ranged") and "(2.00x)" in note


def test_only_pipelines_measured_in_every_run_are_compared(tmp_path: Path) -> None:
    data = orjson.loads(run_file(tmp_path, "a", 100_000.0).read_bytes())
    jobs = {**data["pipelines"][0], "pipeline": "jobs"}
    data["pipelines"] = [jobs, data["pipelines"][0]]
    (tmp_path / "both.json").write_bytes(orjson.dumps(data))
    runs = [load_run(tmp_path / "both.json"), load_run(tmp_path / "a.json")]
    assert common_pipelines(runs) == ["metrics"]


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "no such file"),
        (b"{not json", "not JSON"),
        (b'{"run_id": "x"}', "not a benchmark run"),
        (b"[1, 2]", "not a benchmark run"),
        (b'{"pipelines": [null]}', "a pipeline without its name"),
        (b'{"pipelines": [{"drain": {}}]}', "a pipeline without its name"),
    ],
)
def test_a_file_that_is_not_a_run_is_refused_in_one_line(
    tmp_path: Path, content: bytes | None, says: str
) -> None:
    path = tmp_path / "run.json"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(RunFileError, match=says) as caught:
        load_run(path)
    assert "\n" not in str(caught.value)


def test_a_run_without_its_machine_is_still_compared(tmp_path: Path) -> None:
    data = orjson.loads(run_file(tmp_path, "a", 100_000.0).read_bytes())
    data["machine"] = None
    (tmp_path / "old.json").write_bytes(orjson.dumps(data))
    old = load_run(tmp_path / "old.json")
    assert old.commit == "?"
    assert "machine.logical_cores: 2 / -" in differences(
        [load_run(tmp_path / "a.json"), old], ["metrics"]
    )


def test_the_command_prints_the_table_and_refuses_bad_files_with_one_line(
    tmp_path: Path,
) -> None:
    first, second = run_file(tmp_path, "a", 100_000.0), run_file(tmp_path, "b", 75_000.0)
    command = [sys.executable, "-m", "consumer.cli.main", "bench", "compare"]
    shown = subprocess.run(
        [*command, str(first), str(second)], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert "-25%" in shown.stdout
    assert "differing between the runs: nothing else" in shown.stdout
    data = orjson.loads(first.read_bytes())
    data["pipelines"][0]["pipeline"] = "jobs"
    (tmp_path / "jobs.json").write_bytes(orjson.dumps(data))
    for args in (
        [str(first)],
        [str(first), str(tmp_path / "missing.json")],
        [str(first), str(tmp_path / "jobs.json")],  # no pipeline in common
    ):
        refused = subprocess.run([*command, *args], capture_output=True, text=True, timeout=60)
        assert refused.returncode == 2
        assert refused.stderr.count("\n") == 1 and refused.stderr.startswith("utxoiq: error: ")
    ignored = subprocess.run(
        [*command[:-1], "-n", "5", "compare", str(first), str(second)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ignored.returncode == 2
    assert (
        ignored.stderr
        == "utxoiq: error: --events: options of the benchmark run, not of 'bench compare'\n"
    )
