"""Convergence: duplicates, reordering and batch boundaries all reach the in-order state."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer.outcomes import Decoded
from consumer.settings import DatabaseSettings
from consumer.writers.feedback import write_feedback
from consumer.writers.jobs import write_jobs
from consumer.writers.metrics import write_metrics
from consumer.writers.staging import create_staging_tables
from schemas import decode
from tests.conftest import TABLES
from tests.support import events as ev
from tests.support.events import to_bytes
from tests.unit.helpers import record

JOBS = [str(uuid.UUID(int=i + 1, version=4)) for i in range(3)]


@pytest.fixture(scope="module")
async def writer_pool(
    database_settings: DatabaseSettings, migrated: None
) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(
        database_settings.dsn, min_size=1, max_size=1, init=create_staging_tables
    )
    yield pool
    await pool.close()


def _job_events() -> list[dict[str, Any]]:
    events = []
    for n, job in enumerate(JOBS):
        events.append(ev.job_created(job, start=0, end=100, at=ev.at(n)))
        for seq in range(1, 5):
            events.append(ev.job_progress(job, seq * 10, seq, at=ev.at(n + seq)))
        events.append(
            ev.job_completed(job, 5, at=ev.at(n + 9))
            if n % 2
            else ev.job_failed(job, 5, "x", at=ev.at(n + 9))
        )
    return events


def _feedback_events() -> list[dict[str, Any]]:
    events = []
    for i in range(12):
        at = ev.at(i % 4)  # equal times: ties broken by event id
        events.append(ev.feedback(f"ins-{i % 2}", f"user-{i % 3}", 1 + i % 5, at=at))
    return events


def _metric_events() -> list[dict[str, Any]]:
    return [ev.metric(f"s{i % 2}", "cpu", float(i), at=ev.at(i * 1800)) for i in range(10)]


ALL = {"jobs": _job_events(), "feedback": _feedback_events(), "metrics": _metric_events()}
WRITERS = {"jobs": write_jobs, "feedback": write_feedback, "metrics": write_metrics}


def _decoded(events: Sequence[dict[str, Any]]) -> list[Decoded]:
    return [Decoded(record(e, offset=i), decode(to_bytes(e))) for i, e in enumerate(events)]


async def _apply(pool: asyncpg.Pool, kind: str, batches: Sequence[Sequence[dict[str, Any]]]) -> Any:
    await pool.execute(f"TRUNCATE {', '.join(TABLES)}")
    async with pool.acquire() as conn:
        for batch in batches:
            async with conn.transaction():
                await WRITERS[kind](conn, _decoded(batch))
        tables = {
            "jobs": ["backfill_jobs"],
            "feedback": ["insight_feedback"],
            "metrics": ["system_metrics", "system_metrics_hourly", "system_metrics_daily"],
        }
        state = {}
        for table in tables[kind]:
            rows = await conn.fetch(f"SELECT * FROM {table} ORDER BY 1, 2, 3")
            state[table] = [
                {k: v for k, v in dict(r).items() if k not in ("updated_at", "ingested_at")}
                for r in rows
            ]
        return state


@st.composite
def shuffled_batches(draw: st.DrawFn, kind: str) -> list[list[dict[str, Any]]]:
    events = ALL[kind]
    first: list[dict[str, Any]] = []
    rest = list(events)
    if kind == "jobs":  # a job's created event precedes the rest (Kafka keeps key order)
        first = [e for e in events if e["type"].endswith(".created")]
        rest = [e for e in events if not e["type"].endswith(".created")]
    duplicates = draw(st.lists(st.sampled_from(events), max_size=len(events)))
    stream = draw(st.permutations(rest + duplicates))
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=4)))
    bounds = [0, *cuts, len(stream)]
    batches = [stream[a:b] for a, b in itertools.pairwise(bounds)]
    batches[0] = first + batches[0]
    return [b for b in batches if b]


@pytest.mark.parametrize("kind", ["jobs", "feedback", "metrics"])
@settings(max_examples=20, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
async def test_any_permutation_with_duplicates_converges_to_the_in_order_state(
    writer_pool: asyncpg.Pool, kind: str, data: st.DataObject
) -> None:
    """Any permutation with duplicates, cut into any batches, gives the rows that applying
    the events one at a time in order gives (rollups included)."""
    in_order = await _apply(writer_pool, kind, [[e] for e in ALL[kind]])
    batches = data.draw(shuffled_batches(kind))
    assert await _apply(writer_pool, kind, batches) == in_order


EDGE_TIMES = [
    datetime(1, 1, 1, tzinfo=UTC),
    datetime(1999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(2000, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
    datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
]
"""Event times at the ends of the contract's range and on either side of 2000-01-01, the
origin of the microseconds the writers stage times as."""


async def test_event_times_are_stored_as_the_same_instant_whatever_the_session_time_zone(
    writer_pool: asyncpg.Pool,
) -> None:
    """Feedback times across the whole range, and metric samples with odd microseconds
    through both of the metrics writer's paths, are stored to the microsecond, with the
    session in a time zone far from UTC."""
    await writer_pool.execute(f"TRUNCATE {', '.join(TABLES)}")
    now = datetime.now(UTC)
    samples = [now - timedelta(hours=h, microseconds=7 * h + 1) for h in range(3)]
    metrics = [ev.metric("svc", "cpu", 1.0, at=t) for t in samples]
    async with writer_pool.acquire() as conn:
        await conn.execute("SET TimeZone = 'Pacific/Chatham'")
        try:
            feedback = [ev.feedback("ins", f"u{i}", 3, at=t) for i, t in enumerate(EDGE_TIMES)]
            for writer, events in ((write_feedback, feedback), (write_metrics, metrics)):
                async with conn.transaction():
                    await writer(conn, _decoded(events))
            async with conn.transaction():  # replayed with one more: the general path
                later = [*metrics, ev.metric("svc", "cpu", 2.0, at=now)]
                await write_metrics(conn, _decoded(later))
            stored = await conn.fetch("SELECT submitted_at FROM insight_feedback ORDER BY 1")
            recorded = await conn.fetch("SELECT recorded_at FROM system_metrics ORDER BY 1")
        finally:
            await conn.execute("RESET TimeZone")
    assert [row[0] for row in stored] == EDGE_TIMES
    assert [row[0] for row in recorded] == sorted([*samples, now])
