"""``utxoiq bench --preload N``: drains measured against tables that already hold N rows.

Every drain otherwise starts from empty tables, which no deployment has for long. The
preloaded rows are made by PostgreSQL itself (``generate_series``, a million rows per
statement), outside every timing: metric samples spread evenly at random over the raw
retention window, feedback spread the same way over its ``submitted_at``, a tenth of
the ids random (UUIDv4) and the rest time-ordered (UUIDv7), so the keys miss the cache
as a mix of producers would make them. Their series and their (insight, user) pairs are
named ``preload-...``, apart from the workload's, so after each drain the drain's own
rows are removed (its samples and the workload's rollup buckets, or its feedback) and
the table vacuumed: repeats start alike.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from consumer.bench.workload import RANDOM_ID_EVERY, backfill_spread
from consumer.metrics.maintain import maintain
from consumer.settings import MetricsRetentionSettings
from schemas.topics import Stream

PRELOADED = (Stream.METRICS, Stream.FEEDBACK)
"""The pipelines ``--preload`` applies to; jobs drain against empty tables as before."""

CHUNK = 1_000_000
"""Rows per INSERT statement (and transaction) of the preload."""

SERIES = (20, 5)
"""Preloaded metric series: services times types (the workload's are apart)."""

FEEDBACK_USERS = 50
"""Preloaded feedback: users per insight."""

TIME_ORDERED_ID = """
CASE WHEN g % {every} = 0 THEN gen_random_uuid() ELSE (
  lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') || '7' ||
  substr(md5(g::text), 1, 3) || '8' || substr(md5(g::text), 4, 15))::uuid END"""
"""An id for row ``g`` made at ``at``: UUIDv7 (48-bit milliseconds, version and variant
nibbles, then hash bits), or every ``every``-th a random UUIDv4."""

METRICS = f"""
INSERT INTO system_metrics (event_id, service_name, metric_type, value, unit, recorded_at)
SELECT {TIME_ORDERED_ID.format(every=RANDOM_ID_EVERY)},
       'preload-svc-' || (g % {SERIES[0]}), 'preload-type-' || (g / {SERIES[0]} % {SERIES[1]}),
       random() * 1000, 'ms', at
FROM (SELECT g, $3::timestamptz - random() * $4::interval AS at
      FROM generate_series($1::bigint, $2::bigint) AS g) AS s
ORDER BY at
"""
"""Each chunk in time order: its rows reach each day's indexes in key order, several
times faster than in random order once the indexes outgrow the server's buffers."""

FEEDBACK = f"""
INSERT INTO insight_feedback (insight_id, user_id, rating, comment, flags, submitted_at,
                              event_id, updated_at)
SELECT 'preload-ins-' || lpad((g / {FEEDBACK_USERS})::text, 9, '0'),
       'preload-usr-' || (g % {FEEDBACK_USERS}), 1 + g % 5,
       CASE WHEN g % 2 = 0 THEN NULL ELSE 'preloaded comment ' || g END, '{{}}', at,
       {TIME_ORDERED_ID.format(every=RANDOM_ID_EVERY)}, at
FROM (SELECT g, $3::timestamptz - random() * $4::interval AS at
      FROM generate_series($1::bigint, $2::bigint) AS g) AS s
"""

ROLLUPS = """
DELETE FROM system_metrics_hourly WHERE service_name LIKE 'preload-%';
DELETE FROM system_metrics_daily WHERE service_name LIKE 'preload-%';
INSERT INTO system_metrics_hourly
SELECT service_name, metric_type, date_bin('1 hour', recorded_at, '2000-01-01 00:00+00'), unit,
       count(*), sum(value::text::numeric), min(value), max(value)
FROM system_metrics WHERE service_name LIKE 'preload-%' GROUP BY 1, 2, 3, 4;
INSERT INTO system_metrics_daily
SELECT service_name, metric_type, date_bin('1 day', bucket_start, '2000-01-01 00:00+00'), unit,
       sum(sample_count), sum(value_sum), min(value_min), max(value_max)
FROM system_metrics_hourly WHERE service_name LIKE 'preload-%' GROUP BY 1, 2, 3, 4;
"""
"""Rollups of the preloaded samples, as the consumer would have kept them."""

REMOVE = {
    Stream.METRICS: [
        "DELETE FROM system_metrics WHERE service_name = ANY($2::text[]) AND ingested_at >= $1",
        "DELETE FROM system_metrics_hourly WHERE service_name NOT LIKE 'preload-%'",
        "DELETE FROM system_metrics_daily WHERE service_name NOT LIKE 'preload-%'",
    ],
    Stream.FEEDBACK: ["DELETE FROM insight_feedback WHERE insight_id NOT LIKE 'preload-%'"],
}
VACUUMED = {
    Stream.METRICS: ("system_metrics", "system_metrics_hourly", "system_metrics_daily"),
    Stream.FEEDBACK: ("insight_feedback",),
}


@dataclass(frozen=True, slots=True)
class Preload:
    """Rows preloaded into one pipeline's table, and how long that took."""

    stream: Stream
    rows: int
    """Rows stored now."""
    added: int
    seconds: float

    def note(self) -> str:
        return (
            f"{self.rows:,} rows preloaded ({self.added:,} added in {self.seconds:.0f} s, "
            f"outside the timings): spread over the raw retention, one id in "
            f"{RANDOM_ID_EVERY} random"
        )


async def preload(
    pool: asyncpg.Pool,
    stream: Stream,
    rows: int,
    retention: MetricsRetentionSettings,
    stored: int = 0,
) -> Preload:
    """Bring ``stream``'s table from ``stored`` preloaded rows to ``rows`` (partitions
    made first, rollups of the preloaded series recomputed), then vacuum it."""
    started = time.perf_counter()
    async with pool.acquire() as conn:
        if stream is Stream.METRICS:
            await maintain(conn, retention)
        now: datetime = await conn.fetchval("SELECT now()")
        spread = backfill_spread(retention.raw_retention_days)
        statement = METRICS if stream is Stream.METRICS else FEEDBACK
        for first in range(stored + 1, rows + 1, CHUNK):
            last = min(first + CHUNK - 1, rows)
            await conn.execute(statement, first, last, now, spread)
        if stream is Stream.METRICS:
            await conn.execute(ROLLUPS)
        await _vacuum(conn, stream)
    return Preload(stream, rows, rows - stored, time.perf_counter() - started)


async def remove_drain_rows(
    pool: asyncpg.Pool, stream: Stream, since: datetime, services: list[str]
) -> None:
    """Delete what a drain that started at ``since`` (the server's clock) added; its
    samples are those of the workload's ``services`` (found by the series index of each
    day's partition, wherever their times fall)."""
    async with pool.acquire() as conn:
        for statement in REMOVE[stream]:
            if "$2" in statement:
                await conn.execute(statement, since, services)
            elif "$1" in statement:
                await conn.execute(statement, since)
            else:
                await conn.execute(statement)
        await _vacuum(conn, stream)


async def _vacuum(conn: asyncpg.Connection, stream: Stream) -> None:
    await conn.execute(f"VACUUM (ANALYZE) {', '.join(VACUUMED[stream])}")
