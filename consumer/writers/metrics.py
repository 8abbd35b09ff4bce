"""Metrics: one row per event id; hourly and daily rollups move only by rows really inserted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from consumer.outcomes import DeadLetter, Decoded, Outcome, WriteResult
from consumer.writers.reduce import write_winners
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


def event_id(item: Decoded) -> Any:
    return item.event.id


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
    reduced = await write_winners(conn, items, event_id, None, _merge)
    result = WriteResult()
    inserted = sum(count for count, _ in reduced.results)
    result.outcomes[Outcome.INSERTED] += inserted
    result.outcomes[Outcome.SUPERSEDED] += (
        sum(n for _, n in reduced.results) - inserted + reduced.superseded
    )
    result.rejected.extend(DeadLetter.rejected(item, error) for item, error in reduced.refused)
    return result
