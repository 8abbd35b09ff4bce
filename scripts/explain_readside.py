"""Load a realistic volume into an empty database and print the read side's query plans.

    DATABASE_URL=postgresql://.../scratch .venv/bin/python scripts/explain_readside.py --replace
    DATABASE_URL=... .venv/bin/python scripts/explain_readside.py --keep SERVICE:TYPE

Fills ``system_metrics`` with one million samples (rollups rebuilt from them with one
``INSERT ... SELECT ... GROUP BY`` each), plus jobs and feedback, straight from SQL:
this checks index use at size, not ingestion semantics. The samples cover the 90 days
up to today, each day in a partition of its own. Then it calls every
``DatabaseService`` method, captures the statement each one sends, and prints
``EXPLAIN (ANALYZE, BUFFERS)`` for it. Last, it updates existing feedback rows with the
consumer's own merge and prints how many of those updates were HOT and the WAL they
wrote per row. It empties the service tables of the database it is given, so it refuses
to run without ``--replace``. With ``--keep`` it loads nothing and prints only the
metrics reads of one series over the database as it is (for example the benchmark's
after ``utxoiq bench curve``).
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.metrics.maintain import maintain
from consumer.readside.engine import create_engine
from consumer.readside.service import DatabaseService
from consumer.settings import DatabaseSettings, MetricsRetentionSettings, ReadSideSettings
from consumer.writers.feedback import MERGE as FEEDBACK_MERGE
from consumer.writers.staging import STAGING_TABLES, create_staging_tables, stage
from schemas.topics import Stream

DAYS = 90
T0 = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=DAYS)
SERVICES = 5
TYPES = 4
TABLES = ", ".join(
    [
        "backfill_jobs",
        "insight_feedback",
        "system_metrics",
        "system_metrics_hourly",
        "system_metrics_daily",
    ]
)

METRICS = """
INSERT INTO system_metrics (event_id, service_name, metric_type, value, unit, recorded_at)
SELECT gen_random_uuid(), 'svc-' || (i % $2), 'type-' || (i / $2 % $3),
       (i % 1000)::float8 / 10, 'ms',
       $4::timestamptz + (i / ($2 * $3)) * ($5::float8 * interval '1 second')
FROM generate_series(0, $1 - 1) AS i
"""

ROLLUP = """
INSERT INTO {table} (service_name, metric_type, bucket_start, unit,
                     sample_count, value_sum, value_min, value_max)
SELECT service_name, metric_type, date_trunc('{unit}', recorded_at, 'UTC'), unit,
       count(*), sum(value), min(value), max(value)
FROM system_metrics GROUP BY 1, 2, 3, 4
"""

JOBS = """
INSERT INTO backfill_jobs (job_id, job_type, start_block, end_block, current_block, status,
                           created_by, sequence, created_at, updated_at)
SELECT gen_random_uuid(), (ARRAY['blocks', 'transactions', 'addresses'])[1 + i % 3],
       0, 1000, 0, (ARRAY['pending', 'running', 'completed', 'failed'])[1 + i / 3 % 4],
       'explain', 0, $2::timestamptz + (i / 10) * interval '1 minute',
       $2::timestamptz + (i / 10) * interval '1 minute'
FROM generate_series(0, $1 - 1) AS i
"""

FEEDBACK = """
INSERT INTO insight_feedback (insight_id, user_id, rating, comment, flags, submitted_at,
                              event_id, updated_at)
SELECT 'insight-' || (i % $2), 'user-' || (i / $2), 1 + i % 5,
       CASE WHEN i % 3 = 0 THEN 'fine' END,
       CASE WHEN i % 7 = 0 THEN ARRAY['spam'] ELSE '{}'::text[] END,
       $3::timestamptz + i * interval '7 seconds', gen_random_uuid(), now()
FROM generate_series(0, $1 - 1) AS i
"""


async def load(dsn: str, metrics: int, jobs: int, feedback: int, insights: int) -> None:
    """Empty the service tables and fill them from ``generate_series``."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"TRUNCATE {TABLES}")
        await maintain(conn, MetricsRetentionSettings(raw_retention_days=DAYS + 1))
        step = DAYS * 86_400 * SERVICES * TYPES / metrics
        await _timed("metrics", conn.execute(METRICS, metrics, SERVICES, TYPES, T0, step))
        for table, unit in (("system_metrics_hourly", "hour"), ("system_metrics_daily", "day")):
            await _timed(table, conn.execute(ROLLUP.format(table=table, unit=unit)))
        await _timed("jobs", conn.execute(JOBS, jobs, T0))
        await _timed("feedback", conn.execute(FEEDBACK, feedback, insights, T0))
        await _timed("vacuum analyze", conn.execute(f"VACUUM ANALYZE {TABLES}"))
    finally:
        await conn.close()


async def _timed(what: str, work: Awaitable[Any]) -> None:
    began = time.perf_counter()
    await work
    print(f"-- loaded {what} in {time.perf_counter() - began:.1f} s", flush=True)


class Captured:
    """The last statement (and its parameters) an engine sent."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.sql = ""
        self.params: Any = ()
        event.listen(engine.sync_engine, "before_cursor_execute", self._keep)

    def _keep(self, conn: Any, cursor: Any, sql: str, params: Any, *rest: Any) -> None:
        if not sql.startswith("EXPLAIN"):
            self.sql, self.params = sql, params


async def explain(
    engine: AsyncEngine, captured: Captured, name: str, call: Callable[[], Awaitable[Any]]
) -> Any:
    """Run ``call`` through the service, then print the plan of the statement it sent."""
    result = await call()
    async with engine.connect() as conn:
        rows = await conn.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + captured.sql, captured.params
        )
        plan = "\n".join(f"   {row[0]}" for row in rows)
    print(f"\n== {name}\n{plan}", flush=True)
    return result


async def explain_all(engine: AsyncEngine) -> None:
    captured = Captured(engine)
    db = DatabaseService(engine=engine)

    async def show(name: str, call: Callable[[], Awaitable[Any]]) -> Any:
        return await explain(engine, captured, name, call)

    page = await show("list_backfill_jobs()", lambda: db.list_backfill_jobs(limit=50))
    job = page.items[0]
    await show("get_backfill_job(id)", lambda: db.get_backfill_job(job.job_id))
    await show(
        "list_backfill_jobs(cursor=page 1)",
        lambda: db.list_backfill_jobs(limit=50, cursor=page.next_cursor),
    )
    await show("list_backfill_jobs(status=failed)", lambda: db.list_backfill_jobs("failed"))
    await show(
        "list_backfill_jobs(job_type=addresses)",
        lambda: db.list_backfill_jobs(job_type="addresses"),
    )
    await show(
        "list_backfill_jobs(status=running, job_type=blocks)",
        lambda: db.list_backfill_jobs("running", "blocks"),
    )
    await show("get_feedback_stats(insight)", lambda: db.get_feedback_stats("insight-42"))
    first = await show(
        "list_feedback(insight_id=)", lambda: db.list_feedback(insight_id="insight-42", limit=5)
    )
    await show(
        "list_feedback(insight_id=, cursor=page 1)",
        lambda: db.list_feedback(insight_id="insight-42", limit=5, cursor=first.next_cursor),
    )
    await show("list_feedback(user_id=)", lambda: db.list_feedback(user_id="user-3"))
    since, until = T0 + timedelta(days=3), T0 + timedelta(days=4)
    await show("list_feedback(since=, until=)", lambda: db.list_feedback(since=since, until=until))
    await show("list_feedback()", lambda: db.list_feedback())
    await explain_metrics(engine, captured, "svc-1", "type-2")


async def explain_metrics(
    engine: AsyncEngine, captured: Captured, service: str, metric_type: str
) -> None:
    """The plans of the metrics reads of one series over the last ``DAYS`` days."""
    db = DatabaseService(engine=engine)

    async def show(name: str, call: Callable[[], Awaitable[Any]]) -> Any:
        return await explain(engine, captured, name, call)

    start, end = T0 + timedelta(days=10, hours=5, minutes=17), T0 + timedelta(days=11)
    await show(
        "get_metrics(one series, 19 h, limit 1000)",
        lambda: db.get_metrics(service, metric_type, start, end, limit=1000),
    )
    await show(
        "get_metrics(one series, 90 days, limit 1000)",
        lambda: db.get_metrics(service, metric_type, T0, T0 + timedelta(days=DAYS), limit=1000),
    )
    start, end = T0 + timedelta(hours=7, minutes=30), T0 + timedelta(days=89, hours=18)
    await show(
        "aggregate_metrics(day, ~89 days, partial head and tail)",
        lambda: db.aggregate_metrics(service, metric_type, start, end, "day"),
    )
    start, end = T0 + timedelta(days=80, minutes=10), T0 + timedelta(days=87, minutes=50)
    await show(
        "aggregate_metrics(hour, 7 days, partial head and tail)",
        lambda: db.aggregate_metrics(service, metric_type, start, end, "hour"),
    )


async def feedback_updates(dsn: str, insights: int, rows: int = 20_000) -> None:
    """Newer feedback for ``rows`` existing pairs through the consumer's merge, in batches
    of 2,000: the share of HOT updates and the WAL per row."""
    conn = await asyncpg.connect(dsn)
    try:
        await create_staging_tables(conn, [Stream.FEEDBACK])
        await conn.execute("SELECT pg_stat_force_next_flush()")
        before = await _update_counts(conn)
        lsn = await conn.fetchval("SELECT pg_current_wal_lsn()")
        later = datetime.now(UTC)
        for first in range(0, rows, 2_000):
            batch = [
                (f"insight-{i % insights}", f"user-{i // insights}", 1 + (i + 1) % 5, "newer",
                 "", later, uuid.uuid4())
                for i in range(first, min(first + 2_000, rows))
            ]  # fmt: skip
            async with conn.transaction():
                await stage(conn, STAGING_TABLES[Stream.FEEDBACK], batch, savepoint="u")
                await conn.fetchrow(FEEDBACK_MERGE)
        wal = await conn.fetchval("SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)", lsn)
        await conn.execute("SELECT pg_stat_force_next_flush()")
        updated, hot = (a - b for a, b in zip(await _update_counts(conn), before, strict=True))
        indexes = await conn.fetchval(
            "SELECT count(*) FROM pg_indexes WHERE tablename = 'insight_feedback'"
        )
        print(
            f"\n== feedback updates: {updated:,} rows, {hot:,} HOT ({hot / max(updated, 1):.0%}); "
            f"{indexes} indexes; WAL {wal / max(updated, 1):,.0f} B per row",
            flush=True,
        )
    finally:
        await conn.close()


async def _update_counts(conn: asyncpg.Connection) -> tuple[int, int]:
    row = await conn.fetchrow(
        "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables"
        " WHERE relname = 'insight_feedback'"
    )
    assert row is not None
    return row["n_tup_upd"], row["n_tup_hot_upd"]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replace", action="store_true", help="allow emptying the tables")
    parser.add_argument("--metrics", type=int, default=1_000_000)
    parser.add_argument("--jobs", type=int, default=200_000)
    parser.add_argument("--feedback", type=int, default=500_000)
    parser.add_argument("--insights", type=int, default=20_000)
    parser.add_argument(
        "--keep",
        metavar="SERVICE:TYPE",
        help="load nothing: the metrics reads of this series over the data as it is",
    )
    args = parser.parse_args()
    database = DatabaseSettings()
    if args.keep:
        service, _, metric_type = args.keep.partition(":")
        engine = create_engine(database, ReadSideSettings())
        try:
            await explain_metrics(engine, Captured(engine), service, metric_type)
        finally:
            await engine.dispose()
        return
    if not args.replace:
        parser.error("this empties the service tables of DATABASE_URL: pass --replace")
    began = time.perf_counter()
    await load(database.dsn, args.metrics, args.jobs, args.feedback, args.insights)
    engine = create_engine(database, ReadSideSettings())
    try:
        await explain_all(engine)
    finally:
        await engine.dispose()
    await feedback_updates(database.dsn, args.insights)
    print(f"\n-- total {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
