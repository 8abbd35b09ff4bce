"""Metrics: one row per event id; hourly and daily rollups move only by rows really inserted.

The usual batch holds only new events: it is COPYed straight into ``system_metrics``
and its rollups, summed here, are merged with one statement per table. When the COPY
meets an event already stored (a replay) or a row PostgreSQL refuses, that attempt is
rolled back to its savepoint and the batch takes the general path: stage, insert what
is new, and roll up only what was really inserted, in one statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg

from consumer.errors import is_data_error
from consumer.outcomes import DeadLetter, Decoded, Outcome, WriteResult
from consumer.writers.reduce import reduce_by_key, write_winners
from consumer.writers.staging import stage

COLUMNS = ("event_id", "service_name", "metric_type", "value", "unit", "recorded_at")


def _rollup(table: str, unit: str) -> str:
    return f"""
  INSERT INTO {table} AS r
    (service_name, metric_type, bucket_start, unit, sample_count, value_sum, value_min, value_max)
  SELECT service_name, metric_type, date_trunc('{unit}', recorded_at, 'UTC'), unit,
         count(*), sum(value), min(value), max(value)
  FROM inserted GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
  ON CONFLICT (service_name, metric_type, bucket_start, unit) DO UPDATE SET
    sample_count = r.sample_count + excluded.sample_count,
    value_sum = r.value_sum + excluded.value_sum,
    value_min = least(r.value_min, excluded.value_min),
    value_max = greatest(r.value_max, excluded.value_max)"""


MERGE = f"""
WITH inserted AS (
  INSERT INTO system_metrics (event_id, service_name, metric_type, value, unit, recorded_at)
  SELECT event_id, service_name, metric_type, value, unit, recorded_at
  FROM stage_system_metrics ORDER BY event_id
  ON CONFLICT (event_id) DO NOTHING
  RETURNING service_name, metric_type, unit, value, recorded_at
), hourly AS ({_rollup("system_metrics_hourly", "hour")}
), daily AS ({_rollup("system_metrics_daily", "day")}
)
SELECT count(*) FROM inserted
"""


ROLLUP_MERGE = """
INSERT INTO {table} AS r
  (service_name, metric_type, bucket_start, unit, sample_count, value_sum, value_min, value_max)
SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::bigint[],
                     $6::float8[], $7::float8[], $8::float8[])
ORDER BY 1, 2, 3, 4
ON CONFLICT (service_name, metric_type, bucket_start, unit) DO UPDATE SET
  sample_count = r.sample_count + excluded.sample_count,
  value_sum = r.value_sum + excluded.value_sum,
  value_min = least(r.value_min, excluded.value_min),
  value_max = greatest(r.value_max, excluded.value_max)
"""

RollupKey = tuple[str, str, int, str]
"""(service_name, metric_type, bucket start in epoch seconds, unit)."""

HOUR, DAY = 3600, 86400


def hourly_rollups(items: Sequence[Decoded]) -> dict[RollupKey, list[Any]]:
    """[count, sum, min, max] per series and UTC hour."""
    buckets: dict[RollupKey, list[Any]] = {}
    for item in items:
        data = item.event.data
        seconds = int(item.event.time.timestamp())
        key = (data.service_name, data.metric_type, seconds - seconds % HOUR, data.unit)
        value = data.value
        cell = buckets.get(key)
        if cell is None:
            buckets[key] = [1, value, value, value]
        else:
            cell[0] += 1
            cell[1] += value
            if value < cell[2]:
                cell[2] = value
            elif value > cell[3]:
                cell[3] = value
    return buckets


def daily_rollups(hourly: dict[RollupKey, list[Any]]) -> dict[RollupKey, list[Any]]:
    """The hourly cells folded into UTC days."""
    buckets: dict[RollupKey, list[Any]] = {}
    for (service, metric, hour, unit), (count, total, low, high) in hourly.items():
        key = (service, metric, hour - hour % DAY, unit)
        cell = buckets.get(key)
        if cell is None:
            buckets[key] = [count, total, low, high]
        else:
            cell[0] += count
            cell[1] += total
            cell[2] = min(cell[2], low)
            cell[3] = max(cell[3], high)
    return buckets


async def _merge_rollups(conn: asyncpg.Connection, items: Sequence[Decoded]) -> None:
    hourly = hourly_rollups(items)
    for table, buckets in (
        ("system_metrics_hourly", hourly),
        ("system_metrics_daily", daily_rollups(hourly)),
    ):
        keys = sorted(buckets)
        services, metrics, starts, units = (list(column) for column in zip(*keys, strict=True))
        cells = [list(column) for column in zip(*(buckets[key] for key in keys), strict=True)]
        bucket_starts = [datetime.fromtimestamp(start, UTC) for start in starts]
        await conn.execute(
            ROLLUP_MERGE.format(table=table), services, metrics, bucket_starts, units, *cells
        )


async def _insert_all_new(conn: asyncpg.Connection, items: Sequence[Decoded]) -> bool:
    """COPY every event as a new row; False (and nothing written) when any cannot be."""
    try:
        async with conn.transaction():
            rows = [to_row(item) for item in items]
            await conn.copy_records_to_table("system_metrics", records=rows, columns=COLUMNS)
            await _merge_rollups(conn, items)
    except Exception as exc:
        if is_data_error(exc):
            return False
        raise
    return True


def event_id(item: Decoded) -> Any:
    return item.event.id.int


def to_row(item: Decoded) -> tuple[Any, ...]:
    data = item.event.data
    return (
        item.event.id,
        data.service_name,
        data.metric_type,
        data.value,
        data.unit,
        item.event.time,
    )


async def _merge(conn: asyncpg.Connection, items: Sequence[Decoded]) -> tuple[int, int]:
    await stage(conn, "stage_system_metrics", COLUMNS, [to_row(item) for item in items])
    inserted: int = await conn.fetchval(MERGE)
    return inserted, len(items)


async def write_metrics(conn: asyncpg.Connection, items: Sequence[Decoded]) -> WriteResult:
    """Insert each event once; a duplicate within the batch or already stored is superseded."""
    unique, duplicates = reduce_by_key(items, event_id)
    if unique and await _insert_all_new(conn, unique):
        result = WriteResult()
        result.outcomes[Outcome.INSERTED] += len(unique)
        result.outcomes[Outcome.SUPERSEDED] += len(duplicates)
        return result
    reduced = await write_winners(conn, items, event_id, None, _merge)
    result = WriteResult()
    inserted = sum(count for count, _ in reduced.results)
    result.outcomes[Outcome.INSERTED] += inserted
    result.outcomes[Outcome.SUPERSEDED] += (
        sum(n for _, n in reduced.results) - inserted + reduced.superseded
    )
    result.rejected.extend(DeadLetter.rejected(item, error) for item, error in reduced.refused)
    return result
