"""The naive baseline: one transaction per event, as a straightforward per-call service.

Each event is decoded, then applied in its own transaction (``BEGIN``, the statements,
``COMMIT``) with the same rules as the pipeline: a metric sample is inserted once and
moves its hourly and daily rollups; feedback is upserted when newer; a job row takes
only a higher sequence. No offsets are stored. It runs on a sample of the events and
its rate is taken to hold for the rest.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import asyncpg
from pydantic import TypeAdapter

from consumer.bench.results import Rate
from schemas.codec import decode
from schemas.events import JobCompleted, JobCreated, JobFailed, JobProgress
from schemas.topics import Stream

INSERT_METRIC = """
INSERT INTO system_metrics (event_id, service_name, metric_type, value, unit, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (recorded_at, event_id) DO NOTHING RETURNING 1
"""


def _rollup(table: str, unit: str) -> str:
    return f"""
INSERT INTO {table} AS r (service_name, metric_type, bucket_start, unit,
  sample_count, value_sum, value_min, value_max)
VALUES ($1, $2, date_trunc('{unit}', $3::timestamptz, 'UTC'), $4, 1, $5::float8, $5::float8,
  $5::float8)
ON CONFLICT (service_name, metric_type, bucket_start, unit) DO UPDATE SET
  sample_count = r.sample_count + 1, value_sum = r.value_sum + excluded.value_sum,
  value_min = least(r.value_min, excluded.value_min),
  value_max = greatest(r.value_max, excluded.value_max)
"""


ROLLUPS = (_rollup("system_metrics_hourly", "hour"), _rollup("system_metrics_daily", "day"))

UPSERT_FEEDBACK = """
INSERT INTO insight_feedback AS f
  (insight_id, user_id, rating, comment, flags, submitted_at, event_id, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, now())
ON CONFLICT (insight_id, user_id) DO UPDATE SET
  rating = excluded.rating, comment = excluded.comment, flags = excluded.flags,
  submitted_at = excluded.submitted_at, event_id = excluded.event_id,
  updated_at = excluded.updated_at
WHERE (excluded.submitted_at, excluded.event_id) > (f.submitted_at, f.event_id)
"""

CREATE_JOB = """
INSERT INTO backfill_jobs (job_id, job_type, start_block, end_block, current_block, status,
  created_by, sequence, progress_sequence, created_at, updated_at)
VALUES ($1, $2, $3, $4, $3, 'pending', $5, $6, $6, $7, $7) ON CONFLICT (job_id) DO NOTHING
"""

_LIVE = "job_id = $1 AND sequence < $2 AND status NOT IN ('completed', 'failed')"
PROGRESS_JOB = f"""
UPDATE backfill_jobs SET status = 'running', current_block = $4, sequence = $2,
  progress_sequence = $2, updated_at = $3 WHERE {_LIVE}
"""
COMPLETE_JOB = f"""
UPDATE backfill_jobs SET status = 'completed', sequence = $2, updated_at = $3,
  completed_at = $3 WHERE {_LIVE}
"""
FAIL_JOB = f"""
UPDATE backfill_jobs SET status = 'failed', sequence = $2, updated_at = $3,
  error_message = $4 WHERE {_LIVE}
"""


async def apply_metric(conn: asyncpg.Connection, event: Any) -> None:
    d = event.data
    row = (event.id, d.service_name, d.metric_type, d.value, d.unit, event.time)
    if await conn.fetchval(INSERT_METRIC, *row):
        for statement in ROLLUPS:
            await conn.execute(
                statement, d.service_name, d.metric_type, event.time, d.unit, d.value
            )


async def apply_feedback(conn: asyncpg.Connection, event: Any) -> None:
    d = event.data
    await conn.execute(
        UPSERT_FEEDBACK, d.insight_id, d.user_id, d.rating, d.comment, d.flags, event.time, event.id
    )


async def apply_job(conn: asyncpg.Connection, event: Any) -> None:
    d = event.data
    if isinstance(event, JobCreated):
        await conn.execute(
            CREATE_JOB, d.job_id, d.job_type, d.start_block, d.end_block, d.created_by,
            d.sequence, event.time,
        )  # fmt: skip
    elif isinstance(event, JobProgress):
        await conn.execute(PROGRESS_JOB, d.job_id, d.sequence, event.time, d.current_block)
    elif isinstance(event, JobCompleted):
        await conn.execute(COMPLETE_JOB, d.job_id, d.sequence, event.time)
    elif isinstance(event, JobFailed):
        await conn.execute(FAIL_JOB, d.job_id, d.sequence, event.time, d.error_message)


APPLY = {Stream.METRICS: apply_metric, Stream.FEEDBACK: apply_feedback, Stream.JOBS: apply_job}


async def naive_baseline(
    pool: asyncpg.Pool, stream: Stream, values: Sequence[bytes], adapter: TypeAdapter[Any]
) -> Rate:
    """Decode and apply each value in its own transaction; the rate of the sample."""
    apply = APPLY[stream]
    async with pool.acquire() as conn:
        started = time.perf_counter()
        for value in values:
            event = decode(value, adapter)
            async with conn.transaction():
                await apply(conn, event)
        return Rate(len(values), time.perf_counter() - started)
