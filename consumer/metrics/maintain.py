"""``utxoiq db maintain``: daily partitions made ahead, dropped behind; rollups trimmed.

Runs with the rights of the role in ``DATABASE_URL`` (the migration role in production:
the runtime role has no DDL), under a session advisory lock so that two maintainers
never interleave. Every step is idempotent: the plan is recomputed from the partitions
that exist, each partition is made, or detached and dropped, in a transaction of its
own, and a run cut short is finished by the next one.

Each step asks for its locks with a short ``lock_timeout`` and tries again a few times
when it cannot have them, so ingestion (which holds the parent table's lock for a batch
at a time) is never queued behind maintenance for longer than that timeout.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import asyncpg

from consumer.db.pool import connect
from consumer.metrics.partitions import (
    DAY,
    DEFAULT_PARTITION,
    PARENT,
    PREFIX,
    day_of,
    day_start,
    days_ahead,
    partition_name,
    plan,
)
from consumer.metrics.window import SampleWindow
from consumer.settings import DatabaseSettings, MetricsRetentionSettings

log = logging.getLogger("utxoiq.maintain")

MAINTENANCE_LOCK = 0x7574786D
"""Session advisory lock key held for a whole run: one maintainer at a time."""

LOCK_TIMEOUT_MS = 500
"""How long one step waits for its locks before it gives way to ingestion."""

LOCK_ATTEMPTS = 20
"""Tries per step before the run fails (each after a pause of up to a second)."""

ATTACHED = """
SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = to_regclass($1)
"""


@dataclass(slots=True)
class MaintenanceReport:
    """What one run did, and how far ahead partitions reach afterwards."""

    created: list[date] = field(default_factory=list)
    dropped: list[date] = field(default_factory=list)
    moved_from_default: int = 0
    expired_in_default: int = 0
    hourly_deleted: int = 0
    daily_deleted: int = 0
    days_ahead: float = 0.0

    def lines(self) -> list[str]:
        return [
            f"partitions created: {_days(self.created)}",
            f"partitions dropped: {_days(self.dropped)}",
            f"samples moved out of {DEFAULT_PARTITION}: {self.moved_from_default}",
            f"expired samples deleted from {DEFAULT_PARTITION}: {self.expired_in_default}",
            f"hourly buckets deleted: {self.hourly_deleted}",
            f"daily buckets deleted: {self.daily_deleted}",
            f"partitions reach {self.days_ahead:.2f} days ahead",
        ]


def _days(days: list[date]) -> str:
    if len(days) > 2:
        return f"{len(days)}, {days[0]} to {days[-1]}"
    return ", ".join(map(str, days)) or "none"


async def attached_days(conn: asyncpg.Connection) -> list[date]:
    """The days that have a partition attached to ``system_metrics``."""
    rows = await conn.fetch(ATTACHED, PARENT)
    return sorted(day for row in rows if (day := day_of(row["relname"])) is not None)


async def partition_days_ahead(conn: asyncpg.Connection, now: datetime | None = None) -> float:
    """Days until samples stop finding their day's partition (the alert's signal)."""
    return days_ahead(await attached_days(conn), now or datetime.now(UTC))


async def _with_lock_retries(conn: asyncpg.Connection, statements: list[str]) -> list[str]:
    """Run ``statements`` in one transaction, again when its locks are not to be had;
    their command tags (``INSERT 0 12``...)."""
    for attempt in range(1, LOCK_ATTEMPTS + 1):
        try:
            async with conn.transaction():
                await conn.execute(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}")
                return [await conn.execute(statement) for statement in statements]
        except asyncpg.LockNotAvailableError:
            if attempt == LOCK_ATTEMPTS:
                raise
            log.info("maintenance step gave way to ingestion", extra={"attempt": attempt})
            await asyncio.sleep(min(1.0, 0.05 * 2**attempt))
    raise AssertionError("unreachable")


def _bounds(day: date) -> tuple[str, str]:
    return day_start(day).isoformat(), (day_start(day) + DAY).isoformat()


def create_statements(day: date) -> list[str]:
    """Make a day's partition, bringing in the samples that waited for it in the default
    partition (locked first, so none arrives between the move and the attach)."""
    name, (low, high) = partition_name(day), _bounds(day)
    return [
        f"LOCK TABLE {DEFAULT_PARTITION} IN ACCESS EXCLUSIVE MODE",
        f"CREATE TABLE IF NOT EXISTS {name} "
        f"(LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)",
        f"WITH moved AS (DELETE FROM {DEFAULT_PARTITION} WHERE recorded_at >= '{low}' "
        f"AND recorded_at < '{high}' RETURNING *) INSERT INTO {name} SELECT * FROM moved",
        f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM ('{low}') TO ('{high}')",
    ]


MOVE_STEP = 2
"""Which of ``create_statements`` moves the waiting samples (its tag counts them)."""


def drop_statements(day: date) -> list[str]:
    """Detach a day's partition, then drop it: whole files go, no row is deleted."""
    name = partition_name(day)
    return [f"ALTER TABLE {PARENT} DETACH PARTITION {name}", f"DROP TABLE {name}"]


async def _detached_leftovers(conn: asyncpg.Connection, keep_from: date) -> list[str]:
    """Day tables not attached and older than the window: a drop interrupted by hand."""
    rows = await conn.fetch(
        "SELECT c.relname FROM pg_class c WHERE c.relkind = 'r' AND c.relname LIKE $1 "
        "AND NOT c.relispartition AND c.relnamespace = "
        "(SELECT relnamespace FROM pg_class WHERE oid = to_regclass($2))",
        PREFIX.replace("_", r"\_") + "%",
        PARENT,
    )
    return [
        row["relname"]
        for row in rows
        if (day := day_of(row["relname"])) is not None and day < keep_from
    ]


def _rows(tag: str) -> int:
    """The row count of a command tag (``DELETE 3``, ``INSERT 0 3``)."""
    return int(tag.split()[-1])


async def _delete_older(conn: asyncpg.Connection, table: str, column: str, before: datetime) -> int:
    return _rows(await conn.execute(f"DELETE FROM {table} WHERE {column} < $1", before))


async def maintain(
    conn: asyncpg.Connection, retention: MetricsRetentionSettings, now: datetime | None = None
) -> MaintenanceReport:
    """Make the window's partitions, drop those past the retention, trim the rollups."""
    now = now or datetime.now(UTC)
    window = SampleWindow.of(retention)
    report = MaintenanceReport()
    await conn.execute("SELECT pg_advisory_lock($1)", MAINTENANCE_LOCK)
    try:
        todo = plan(await attached_days(conn), window, now)
        for day in todo.create:
            tags = await _with_lock_retries(conn, create_statements(day))
            report.moved_from_default += _rows(tags[MOVE_STEP])
            report.created.append(day)
        for day in todo.drop:
            await _with_lock_retries(conn, drop_statements(day))
            report.dropped.append(day)
        oldest = window.oldest_kept(now)
        for name in await _detached_leftovers(conn, oldest.date()):
            await conn.execute(f"DROP TABLE IF EXISTS {name}")
        report.expired_in_default = await _delete_older(
            conn, DEFAULT_PARTITION, "recorded_at", oldest
        )
        await _trim_rollups(conn, retention, now, report)
        report.days_ahead = days_ahead(await attached_days(conn), now)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MAINTENANCE_LOCK)
    return report


async def _trim_rollups(
    conn: asyncpg.Connection,
    retention: MetricsRetentionSettings,
    now: datetime,
    report: MaintenanceReport,
) -> None:
    hourly_before = now - timedelta(days=retention.hourly_retention_days)
    report.hourly_deleted = await _delete_older(
        conn, "system_metrics_hourly", "bucket_start", hourly_before
    )
    if retention.daily_retention_days is not None:
        daily_before = now - timedelta(days=retention.daily_retention_days)
        report.daily_deleted = await _delete_older(
            conn, "system_metrics_daily", "bucket_start", daily_before
        )


async def maintain_database(
    database: DatabaseSettings, retention: MetricsRetentionSettings
) -> MaintenanceReport:
    """``maintain`` on a connection of its own."""
    conn = await connect(database)
    try:
        return await maintain(conn, retention)
    finally:
        await conn.close()
