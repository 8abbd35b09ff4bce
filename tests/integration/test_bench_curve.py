"""`utxoiq bench curve`: drains at growing levels of stored rows, and a day dropped while a
drain runs, against the real broker and database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson

from consumer.settings import Settings
from tests.support.running import run_utxoiq


async def test_a_curve_drains_each_kind_at_each_level_and_drops_a_day_meanwhile(
    settings: Settings, tmp_path: Path
) -> None:
    """Two levels times two kinds of sample time, each drained; every ratio is to the
    first level of its own kind; a day of samples past the retention is dropped while a
    live drain runs and the batches that overlapped it are counted."""
    args = ["bench", "curve", "-p", "metrics", "-n", "3000", "--rows", "0,4k", "--repeat", "1"]
    args += ["--drop-day", "2000", "-o", str(tmp_path)]
    code, out, err = await run_utxoiq(settings, *args, within=300)
    assert code == 0, err[-2000:]
    assert "drain rate by rows stored" in out

    run = _written(tmp_path)
    points = [(p["rows"], p["times"]) for p in run["points"]]
    assert points == [(0, "live"), (0, "backfill"), (4000, "live"), (4000, "backfill")]
    assert all(p["rate"] > 0 and len(p["rates"]) == 1 for p in run["points"])
    assert [p["ratio"] for p in run["points"][:2]] == [1.0, 1.0]
    assert any("4,000 rows preloaded (4,000 added" in note for note in run["notes"])
    drop = run["drop"]
    assert drop["rows"] == 2000 and drop["drop_ms"] > 0 and drop["bytes_per_row"] > 50
    assert drop["write_ms_p99"] >= drop["write_ms_p50"] > 0


def _written(directory: Path) -> dict[str, Any]:
    [path] = directory.glob("curve-*.json")
    found: dict[str, Any] = orjson.loads(path.read_bytes())
    return found
