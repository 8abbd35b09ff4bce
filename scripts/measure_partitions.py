"""Measure what partitioning ``system_metrics`` costs in locks, and the WAL of a batch.

    python scripts/measure_partitions.py [ROWS]      (DATABASE_URL: a superuser's)

On a scratch database of its own (created and dropped on the same server):

1. the migration to the partitioned table over ROWS existing samples (default 1,000,000,
   spread over 30 days, a tenth of the ids random): its duration is how long it holds
   the ACCESS EXCLUSIVE lock on ``system_metrics``;
2. dropping the oldest day's partition (``utxoiq db maintain`` a day later) while a
   writer appends 1,000-sample batches: the drop's duration and the batches' slowest
   and 99th-percentile write times;
3. WAL bytes per sample of a 100,000-sample append right after a checkpoint (full-page
   images at their worst), with ``wal_compression`` off and lz4, twice each, alternately.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from consumer.db.migrate import upgrade
from consumer.metrics.maintain import attached_days, maintain
from consumer.metrics.partitions import partition_name
from consumer.settings import DatabaseSettings, MetricsRetentionSettings

OLD_ROWS = """
INSERT INTO system_metrics (event_id, service_name, metric_type, value, unit, recorded_at)
SELECT CASE WHEN g % 10 = 0 THEN gen_random_uuid() ELSE
         (lpad(to_hex((extract(epoch FROM at) * 1000)::bigint), 12, '0') || '7' ||
          substr(md5(g::text), 1, 3) || '8' || substr(md5(g::text), 4, 15))::uuid END,
       'svc-' || (g % 36), 'type-' || (g % 12), random() * 1000, 'ms', at
FROM (SELECT g, now() - random() * interval '29 days 23 hours' AS at
      FROM generate_series($1::bigint, $2::bigint) AS g) AS s
"""

APPEND = """
INSERT INTO system_metrics (event_id, service_name, metric_type, value, unit, recorded_at)
SELECT gen_random_uuid(), 'svc-' || (g % 36), 'type-' || (g % 12), g, 'ms',
       now() - random() * interval '29 days'
FROM generate_series(1, $1::int) AS g
"""


def scratch_url(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def migration_lock(database: DatabaseSettings, rows: int) -> float:
    await asyncio.to_thread(upgrade, database, "0002")
    conn = await asyncpg.connect(database.dsn)
    try:
        for first in range(1, rows + 1, 1_000_000):
            await conn.execute(OLD_ROWS, first, min(first + 999_999, rows))
        await conn.execute("VACUUM ANALYZE system_metrics")
    finally:
        await conn.close()
    started = time.perf_counter()
    await asyncio.to_thread(upgrade, database)
    return time.perf_counter() - started


async def drop_while_writing(database: DatabaseSettings) -> tuple[float, list[float], int]:
    conn = await asyncpg.connect(database.dsn)
    writer = await asyncpg.connect(database.dsn)
    retention = MetricsRetentionSettings()
    try:
        await maintain(conn, retention)
        first_day = (await attached_days(conn))[0]
        oldest: int = await conn.fetchval(f"SELECT count(*) FROM {partition_name(first_day)}")
        stop = asyncio.Event()
        times: list[float] = []

        async def write() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                async with writer.transaction():
                    await writer.execute(APPEND.replace("29 days", "1 hour"), 1_000)
                times.append(time.perf_counter() - started)

        task = asyncio.create_task(write())
        await asyncio.sleep(2)
        started = time.perf_counter()
        report = await maintain(conn, retention, datetime.now(UTC) + timedelta(days=1))
        dropped_in = time.perf_counter() - started
        await asyncio.sleep(2)
        stop.set()
        await task
        assert report.dropped, "nothing was old enough to drop"
        return dropped_in, times, oldest
    finally:
        await conn.close()
        await writer.close()


async def wal_per_row(database: DatabaseSettings, compression: str) -> float:
    conn = await asyncpg.connect(database.dsn)
    try:
        await conn.execute(f"SET wal_compression = {compression}")
        await conn.execute("CHECKPOINT")
        before = await conn.fetchval("SELECT pg_current_wal_lsn()")
        await conn.execute(APPEND, 100_000)
        written: int = await conn.fetchval(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)", before
        )
        return written / 100_000
    finally:
        await conn.close()


async def main(rows: int) -> None:
    server = DatabaseSettings()
    name = f"utxoiq_measure_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server.dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    database = DatabaseSettings(url=scratch_url(server.dsn, name))
    try:
        seconds = await migration_lock(database, rows)
        print(f"migration over {rows:,} rows: {seconds:.1f} s under ACCESS EXCLUSIVE")
        print(f"  {seconds / rows * 1e6:.1f} s per million rows")
        dropped_in, times, day_rows = await drop_while_writing(database)
        times.sort()
        p99 = times[int(0.99 * (len(times) - 1))]
        print(f"drop of a day's partition ({day_rows:,} rows): {dropped_in * 1000:.0f} ms")
        print(
            f"  {len(times)} batches of 1,000 meanwhile: median "
            f"{statistics.median(times) * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
            f"max {times[-1] * 1000:.0f} ms"
        )
        for compression in ("off", "lz4", "off", "lz4"):
            per_row = await wal_per_row(database, compression)
            print(
                f"WAL per sample after a checkpoint, wal_compression={compression}: {per_row:.0f} B"
            )
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000))
