"""`utxoiq bench` end to end, on a run small enough for the suite: every figure it
promises reaches its JSON file, measured on the real stack."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from consumer.settings import Settings
from tests.support.running import run_utxoiq


async def test_a_small_run_with_two_members_reports_every_figure(
    settings: Settings, tmp_path: Path
) -> None:
    """Ceilings, drain, paced-load latency, memory and CPU for one pipeline, drained by
    a group of two consumer processes, land in the JSON file beside the machine's
    description; each figure is the median of its repetitions (the latency's, of its
    windows), all of them kept."""
    args = ["bench", "-p", "metrics", "-n", "4000", "--naive-events", "200", "--repeat", "2"]
    args += ["--load-seconds", "2", "--members", "2", "-o", str(tmp_path)]
    code, out, err = await run_utxoiq(settings, *args, within=300)
    assert code == 0, err[-2000:]
    run, logs = _written(tmp_path)
    assert run["options"]["members"] == 2
    assert {"logical_cores", "memory_bytes", "kafka", "postgresql"} <= run["machine"].keys()
    [metrics] = run["pipelines"]
    assert 0 < metrics["drain"]["events"] <= 4000  # those committed once the group was whole
    assert metrics["drain"]["events_per_second"] > 0
    assert metrics["drain"]["cpu_seconds"] > 0
    for ceiling in ("fetch_only", "decode_only", "write_only", "naive_baseline"):
        assert metrics["ceilings"][ceiling]["events_per_second"] > 0, ceiling
    assert metrics["latency"]["never_committed"] == 0
    assert 0 < metrics["latency"]["p50_ms"] <= metrics["latency"]["p99_ms"]
    assert metrics["peak_rss_bytes"] > 0
    assert {t["name"] for t in metrics["targets"]} >= {"drain rate", "p99 event age at commit"}
    assert "drain rate" in out and "members=2" in out
    assert "drain and ceilings are medians of 2 repetitions" in " ".join(out.split())
    repeats = metrics["repeats"]
    for figure, found in [("drain", metrics["drain"]), *metrics["ceilings"].items()]:
        assert len(repeats[figure]) == 2, figure
        assert found["events_per_second"] == min(repeats[figure]), figure  # the lower middle
    # the paced load in two windows: its figures are the lower middle's by p99, both kept
    assert len(repeats["latency_p99_ms"]) == 2
    assert round(metrics["latency"]["p99_ms"], 1) == min(repeats["latency_p99_ms"])
    # two members, each drain by fresh processes: the second drain's logs beside the first's
    assert len(logs) == 4 and sum("-r2" in name for name in logs) == 2, logs


def _written(directory: Path) -> tuple[dict[str, Any], list[str]]:
    """The run's JSON file, and the names of the consumers' logs beside it."""
    [path] = directory.glob("bench-*.json")
    return orjson.loads(path.read_bytes()), sorted(p.name for p in directory.glob("*.log"))
