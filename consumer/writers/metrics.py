"""Metrics: one row per (time, event id); hourly and daily rollups move only by rows inserted.

Samples outside the window (``consumer.metrics.window``) never reach the database: an
expired one is counted, one past the future horizon is dead-lettered at ``validate``.

Every batch is COPYed into a session-private staging table. The usual batch holds only
new events: one statement appends them to ``system_metrics`` and adds their sums to the
rollups, all read from the staged rows (PostgreSQL does the summing, off the
consumer's CPU). When that statement meets an event already stored (a replay), an event
twice in the batch, or a row PostgreSQL refuses, it is rolled back to its savepoint and
the batch takes the general path: insert what is new, and roll up only what was really
inserted.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from consumer.coordinates import Record
from consumer.errors import Fault, fault_of
from consumer.metrics.window import BEYOND_HORIZON_REASON, SampleTime, SampleWindow
from consumer.outcomes import DeadLetter, Decoded, Outcome, WriteResult
from consumer.settings import MetricsRetentionSettings
from consumer.vocabulary import Stage
from consumer.writers.reduce import write_winners
from consumer.writers.staging import (
    MICROSECOND,
    PG_EPOCH,
    STAGING_TABLES,
    from_micros,
    stage,
)
from schemas.topics import Stream

STAGED = STAGING_TABLES[Stream.METRICS]


UTC_ORIGIN = "timestamptz '2000-01-01 00:00+00'"
"""``date_bin`` origin: buckets are whole UTC hours and days (plain arithmetic, unlike
the time-zone-aware ``date_trunc``)."""


def _rollups(source: str) -> str:
    """CTEs that add ``source``'s samples to the hourly and daily rollups: the samples are
    summed per hour once, and the days are summed from those hours.

    Sums are ``numeric``, so no sum of finite doubles overflows. A sample enters the sum
    through its shortest exact text (``value::text``), which reads back as the same
    double; a direct ``::numeric`` cast would keep only 15 digits, and round the largest
    double above itself."""
    cells = f"""
cells AS MATERIALIZED (
  SELECT service_name, metric_type, date_bin('1 hour', recorded_at, {UTC_ORIGIN}) AS bucket,
         unit, count(*) AS n, sum(value::text::numeric) AS total, min(value) AS low,
         max(value) AS high
  FROM {source} GROUP BY 1, 2, 3, 4
)"""
    return ",".join(
        [
            cells,
            _merge_cells("hourly", "system_metrics_hourly", "SELECT * FROM cells"),
            _merge_cells(
                "daily",
                "system_metrics_daily",
                f"""SELECT service_name, metric_type, date_bin('1 day', bucket, {UTC_ORIGIN}), unit,
         sum(n), sum(total), min(low), max(high)
  FROM cells GROUP BY 1, 2, 3, 4""",
            ),
        ]
    )


def _merge_cells(name: str, table: str, select: str) -> str:
    return f"""
{name} AS (
  INSERT INTO {table} AS r
    (service_name, metric_type, bucket_start, unit, sample_count, value_sum, value_min, value_max)
  {select} ORDER BY 1, 2, 3, 4
  ON CONFLICT (service_name, metric_type, bucket_start, unit) DO UPDATE SET
    sample_count = r.sample_count + excluded.sample_count,
    value_sum = r.value_sum + excluded.value_sum,
    value_min = least(r.value_min, excluded.value_min),
    value_max = greatest(r.value_max, excluded.value_max)
)"""


STAGED_SAMPLES = f"""
staged AS (
  SELECT event_id, service_name, metric_type, value, unit,
         {from_micros("recorded_at")} AS recorded_at
  FROM stage_system_metrics
)"""
"""The staged samples with their times (staged as ``MICROS``)."""

MERGE = f"""
WITH {STAGED_SAMPLES},
inserted AS (
  INSERT INTO system_metrics (event_id, service_name, metric_type, value, unit, recorded_at)
  SELECT event_id, service_name, metric_type, value, unit, recorded_at
  FROM staged ORDER BY recorded_at, event_id
  ON CONFLICT (recorded_at, event_id) DO NOTHING
  RETURNING service_name, metric_type, unit, value, recorded_at
),{_rollups("inserted")}
SELECT count(*) FROM inserted
"""
"""The general case: insert what is new, and roll up only what was really inserted."""

APPEND = f"""
WITH {STAGED_SAMPLES},
appended AS (
  INSERT INTO system_metrics (event_id, service_name, metric_type, value, unit, recorded_at)
  SELECT event_id, service_name, metric_type, value, unit, recorded_at FROM staged
),{_rollups("staged")}
SELECT 1
"""
"""The usual case: every staged event is new, so it is inserted and rolled up as staged."""


async def _append_all(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> bool:
    """Insert every row as new; False (and nothing written) when any cannot be, or when
    an error that may be a row's fault is raised (the general path isolates it).

    Round trips are what a small batch costs on a busy machine, so there are four: the
    savepoint with the staging table emptied, the two of ``COPY``, and the append, a
    prepared statement (its plan, about a millisecond, is made once per session). The
    savepoint is not released: the commit releases it.
    """
    try:
        await stage(conn, STAGED, rows, savepoint="append_all")
        await conn.fetchval(APPEND)
    except Exception as exc:
        if fault_of(exc) is Fault.SURROUNDINGS:
            raise
        await conn.execute("ROLLBACK TO SAVEPOINT append_all")
        return False
    return True


def sample_key(item: Decoded) -> Hashable:
    """A sample's identity, as the table's key: its time and its event id."""
    return item.event.time, item.event.id.int


def to_row(item: Decoded) -> tuple[Any, ...]:
    """The staged row of a sample, in ``STAGED.columns`` order, its time as ``MICROS``."""
    event = item.event
    data = event.data
    micros = (event.time - PG_EPOCH) // MICROSECOND
    return (event.id, data.service_name, data.metric_type, data.value, data.unit, micros)


async def _merge(
    conn: asyncpg.Connection, items: Sequence[Decoded], savepoint: str
) -> tuple[int, int]:
    await stage(conn, STAGED, list(map(to_row, items)), savepoint=savepoint)
    inserted: int = await conn.fetchval(MERGE)
    return inserted, len(items)


DEFAULT_WINDOW = SampleWindow.of(MetricsRetentionSettings())


def split_by_window(
    items: Sequence[Decoded], window: SampleWindow, now: datetime
) -> tuple[list[Decoded], int, list[DeadLetter]]:
    """The samples to write, how many expired, and the dead letters of those too far ahead."""
    oldest, latest = window.oldest_kept(now), window.latest_kept(now)
    kept = [item for item in items if oldest <= item.event.time <= latest]
    if len(kept) == len(items):
        return kept, 0, []
    expired = 0
    refused: list[DeadLetter] = []
    for item in items:
        place = window.place(item.event.time, now)
        if place is SampleTime.EXPIRED:
            expired += 1
        elif place is SampleTime.BEYOND_HORIZON:
            refused.append(_beyond_horizon(item, window, now))
    return kept, expired, refused


def _beyond_horizon(item: Decoded, window: SampleWindow, now: datetime) -> DeadLetter:
    return DeadLetter(
        Record.of(item.record),
        Stage.VALIDATE,
        BEYOND_HORIZON_REASON,
        window.refusal(item.event.time, now),
        str(item.event.id),
        item.event.type,
    )


async def write_metrics(
    conn: asyncpg.Connection,
    items: Sequence[Decoded],
    window: SampleWindow = DEFAULT_WINDOW,
    now: datetime | None = None,
) -> WriteResult:
    """Insert each sample of the window once; a duplicate within the batch or already
    stored is superseded, an expired one counted, one too far ahead dead-lettered.

    The usual batch is appended whole without looking for duplicates: one within the
    batch fails the append like one already stored, and the general path sorts it out.
    """
    kept, expired, refused = split_by_window(items, window, now or datetime.now(UTC))
    result = WriteResult()
    result.outcomes[Outcome.EXPIRED] += expired
    result.rejected.extend(refused)
    if kept and await _append_all(conn, list(map(to_row, kept))):
        result.outcomes[Outcome.INSERTED] += len(kept)
        return result
    reduced = await write_winners(conn, kept, sample_key, None, _merge)
    inserted = sum(count for count, _ in reduced.results)
    result.outcomes[Outcome.INSERTED] += inserted
    result.outcomes[Outcome.SUPERSEDED] += (
        sum(n for _, n in reduced.results) - inserted + reduced.superseded
    )
    result.rejected.extend(DeadLetter.rejected(item, error) for item, error in reduced.refused)
    return result
