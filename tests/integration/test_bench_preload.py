"""`utxoiq bench --preload N`: the rows stored before the drains, and a drain's own rows
removed after it, against real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest

from consumer.bench.preload import preload, remove_drain_rows
from consumer.bench.workload import metric_services
from consumer.metrics.partitions import DEFAULT_PARTITION
from consumer.outcomes import Decoded
from consumer.settings import DatabaseSettings, MetricsRetentionSettings, Settings
from consumer.writers.feedback import write_feedback
from consumer.writers.metrics import write_metrics
from schemas import decode
from schemas.topics import Stream
from tests.support import events as ev
from tests.support.running import run_utxoiq
from tests.support.scratch import scratch_pool
from tests.unit.helpers import record

RETENTION = MetricsRetentionSettings()


@pytest.fixture
async def pool(database_settings: DatabaseSettings) -> AsyncIterator[asyncpg.Pool]:
    async with scratch_pool(database_settings, "preload") as created:
        yield created


async def test_preloaded_samples_spread_over_the_retention_with_a_tenth_random_ids(
    pool: asyncpg.Pool,
) -> None:
    """5,000 samples land in their days' partitions across the retention window, one id
    in ten a UUIDv4, with their rollups; a drain's sample is removed, the preload kept."""
    done = await preload(pool, Stream.METRICS, 5_000, RETENTION)
    assert done.rows == 5_000
    now = datetime.now(UTC)
    row = await pool.fetchrow(
        "SELECT count(*) AS n, min(recorded_at) AS low, max(recorded_at) AS high,"
        " count(*) FILTER (WHERE substr(event_id::text, 15, 1) = '4') AS random_ids,"
        " count(DISTINCT (recorded_at AT TIME ZONE 'UTC')::date) AS days FROM system_metrics"
    )
    assert row is not None
    assert row["n"] == 5_000 and row["random_ids"] == 500
    assert now - timedelta(days=RETENTION.raw_retention_days) < row["low"] < row["high"] <= now
    assert row["days"] >= RETENTION.raw_retention_days - 1
    assert await pool.fetchval(f"SELECT count(*) FROM {DEFAULT_PARTITION}") == 0
    assert await pool.fetchval("SELECT sum(sample_count) FROM system_metrics_daily") == 5_000

    since: datetime = await pool.fetchval("SELECT now()")
    [service, *_] = metric_services(36)
    live = ev.metric(service, "cpu", 1.0, at=datetime.now(UTC))
    backfilled = ev.metric(service, "cpu", 1.0, at=datetime.now(UTC) - timedelta(days=20))
    async with pool.acquire() as conn, conn.transaction():
        drained = [Decoded(record(e), decode(ev.to_bytes(e))) for e in (live, backfilled)]
        await write_metrics(conn, drained)
    await remove_drain_rows(pool, Stream.METRICS, since, [service])

    assert await pool.fetchval("SELECT count(*) FROM system_metrics") == 5_000
    assert await pool.fetchval("SELECT sum(sample_count) FROM system_metrics_hourly") == 5_000


async def test_a_preload_is_topped_up_to_the_next_level(pool: asyncpg.Pool) -> None:
    """The cost curve adds rows level by level: the second preload adds only the
    difference, with new ids, and the preloaded series' rollups count every sample once."""
    await preload(pool, Stream.METRICS, 2_000, RETENTION)
    done = await preload(pool, Stream.METRICS, 5_000, RETENTION, stored=2_000)

    assert (done.rows, done.added) == (5_000, 3_000)
    assert await pool.fetchval("SELECT count(DISTINCT event_id) FROM system_metrics") == 5_000
    assert await pool.fetchval("SELECT sum(sample_count) FROM system_metrics_hourly") == 5_000
    assert await pool.fetchval("SELECT sum(sample_count) FROM system_metrics_daily") == 5_000


async def test_preloaded_feedback_stays_and_a_drains_feedback_goes(pool: asyncpg.Pool) -> None:
    """Feedback rows are preloaded under pairs of their own; a drain's rows are removed."""
    await preload(pool, Stream.FEEDBACK, 3_000, RETENTION)
    since: datetime = await pool.fetchval("SELECT now()")
    drained = ev.feedback("ins-1", "usr-1", 4, at=datetime.now(UTC))
    async with pool.acquire() as conn, conn.transaction():
        await write_feedback(conn, [Decoded(record(drained), decode(ev.to_bytes(drained)))])
    assert await pool.fetchval("SELECT count(*) FROM insight_feedback") == 3_001

    await remove_drain_rows(pool, Stream.FEEDBACK, since, [])

    assert await pool.fetchval("SELECT count(*) FROM insight_feedback") == 3_000


async def test_a_bench_run_with_preload_drains_against_the_stored_rows(
    settings: Settings, tmp_path: Path
) -> None:
    """`--preload` stores the rows before the drains and says so in the run's JSON."""
    args = ["bench", "-p", "metrics", "-n", "2000", "--naive-events", "100", "--repeat", "2"]
    args += ["--skip-latency", "--preload", "3000", "-o", str(tmp_path)]
    code, _, err = await run_utxoiq(settings, *args, within=300)
    assert code == 0, err[-2000:]
    run = _written(tmp_path)
    assert run["options"]["preload"] == 3000
    [metrics] = run["pipelines"]
    assert any("3,000 rows preloaded" in note for note in metrics["notes"])
    assert len(metrics["repeats"]["drain"]) == 2


def _written(directory: Path) -> dict[str, Any]:
    [path] = directory.glob("bench-*.json")
    found: dict[str, Any] = orjson.loads(path.read_bytes())
    return found
