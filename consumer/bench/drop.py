"""A day's partition of stored samples dropped while the real consumer drains metrics.

``utxoiq bench curve --drop-day N`` stores N samples in a day past the raw retention,
starts a live drain, and once a third of it is committed runs ``utxoiq db maintain``,
which detaches and drops that day's partition. The detach takes an ``ACCESS EXCLUSIVE``
lock on ``system_metrics``; the batches whose writes overlapped the drop say how long
ingestion waited for it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from consumer.bench.drain import committed_batches, wait_drained
from consumer.bench.latency import CommitWatcher
from consumer.bench.preload import CHUNK
from consumer.bench.process import POSITIONED
from consumer.bench.space import Workspace, consumer_group
from consumer.bench.stats import percentile
from consumer.metrics.maintain import create_statements, maintain
from consumer.metrics.partitions import day_start, partition_name
from consumer.pipelines import build_pipeline
from consumer.settings import MetricsRetentionSettings, Settings
from schemas.topics import Stream

DROP_AFTER = 1 / 3
"""The drop starts once this share of the drain's records is committed."""


DAY_SAMPLES = """
INSERT INTO system_metrics (event_id, service_name, metric_type, value, unit, recorded_at)
SELECT gen_random_uuid(), 'dropped-svc-' || (g % 20), 'cpu', random(), 'ms', at
FROM (SELECT g, $3::timestamptz + random() * interval '1 day' AS at
      FROM generate_series($1::bigint, $2::bigint) AS g) AS s
ORDER BY at
"""
"""Samples ``$1`` to ``$2`` of the day that starts at ``$3``."""


class DropFailed(Exception):
    """The maintenance did not drop the day stored for it."""


@dataclass(frozen=True, slots=True)
class DropDuringDrain:
    """A day's partition dropped while a drain ran."""

    rows: int
    bytes_on_disk: int
    """The day's partition with its indexes, before the drop."""
    drop_s: float
    write_ms_during: list[float]
    write_ms_all: list[float]

    def as_dict(self) -> dict[str, Any]:
        during, every = self.write_ms_during or [0.0], self.write_ms_all or [0.0]
        return {
            "rows": self.rows,
            "bytes_per_row": self.bytes_on_disk / max(self.rows, 1),
            "drop_ms": self.drop_s * 1000,
            "batches_during": len(self.write_ms_during),
            "write_ms_during_max": max(during),
            "write_ms_during_p99": percentile(during, 99),
            "write_ms_p99": percentile(every, 99),
            "write_ms_p50": percentile(every, 50),
        }


async def drop_during_drain(
    space: Workspace, settings: Settings, ends: dict[int, int], rows: int
) -> DropDuringDrain:
    """Store ``rows`` samples in a day past the retention, then drain the metrics topic
    of ``settings`` (ending at ``ends``) and drop that day's partition once a third of
    it is committed."""
    retention = space.settings.metrics
    day = (datetime.now(UTC) - timedelta(days=retention.raw_retention_days + 2)).date()
    space.say(f"storing {rows:,} samples on {day} to drop")
    async with space.pool.acquire() as conn:
        await maintain(conn, retention)  # a day left from an earlier run is dropped first
        async with conn.transaction():
            for statement in create_statements(day):
                await conn.execute(statement)
        for first in range(1, rows + 1, CHUNK):  # each chunk within the statement timeout
            last = min(first + CHUNK - 1, rows)
            await conn.execute(DAY_SAMPLES, first, last, day_start(day))
        await conn.execute(f"VACUUM (ANALYZE) {partition_name(day)}")
        size = await conn.fetchval("SELECT pg_total_relation_size($1)", partition_name(day))
    stream = Stream.METRICS
    pipeline = build_pipeline(stream, settings)
    base = space.options.output / f"{space.run_id}-{stream.value}-drop"
    proc = consumer_group(space, pipeline.name, space.child_env(settings, stream), [base])
    try:
        proc.start()
        positioned = await proc.wait_for(POSITIONED, within=120)
        async with space.pool.acquire() as conn, space.pool.acquire() as dropper:
            watcher = CommitWatcher(conn, pipeline.group, pipeline.topic)
            reached, target = asyncio.Event(), sum(ends.values()) * DROP_AFTER
            drop = asyncio.create_task(_drop_once(reached, dropper, retention))
            await wait_drained(
                proc, watcher, ends, lambda done: reached.set() if done >= target else None
            )
            began, ended = await drop
        batches = await committed_batches(proc, positioned.at, sum(ends.values()))
    finally:
        await proc.stop()
    every = [float(b.fields.get("write_ms", 0)) for b in batches]
    during = [
        float(b.fields.get("write_ms", 0))
        for b in batches
        if b.at >= began and b.at - float(b.fields.get("write_ms", 0)) / 1000 <= ended
    ]
    found = DropDuringDrain(rows, size, ended - began, during, every)
    space.say(f"dropped a day of {rows:,} samples in {found.drop_s * 1000:.0f} ms")
    return found


async def _drop_once(
    reached: asyncio.Event, conn: asyncpg.Connection, retention: MetricsRetentionSettings
) -> tuple[float, float]:
    """Once ``reached`` is set, run the maintenance (which drops the expired day); when
    it began and ended (wall clock)."""
    await reached.wait()
    began = time.time()
    report = await maintain(conn, retention)
    ended = time.time()
    if not report.dropped:
        raise DropFailed("the maintenance dropped no partition: the stored day was kept")
    return began, ended
