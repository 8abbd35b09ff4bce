"""The engine and PostgreSQL's side of a batch: rows it refuses, when a commit waits for
its WAL flush, and the staging tables a session holds."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import pytest

from consumer.pipelines import build_pipelines
from consumer.service import write_pool
from consumer.settings import Settings
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.drain import wait_drained
from tests.support.running import running_service

REFUSING = """
ALTER TABLE system_metrics ADD CONSTRAINT test_refused CHECK (metric_type <> 'refused');
ALTER TABLE insight_feedback ADD CONSTRAINT test_refused CHECK (user_id <> 'refused');
"""
"""Valid events whose rows PostgreSQL refuses: the contract's own models leave no such
value, so the tests add a constraint."""

NOT_REFUSING = """
ALTER TABLE system_metrics DROP CONSTRAINT IF EXISTS test_refused;
ALTER TABLE insight_feedback DROP CONSTRAINT IF EXISTS test_refused;
"""


@contextlib.asynccontextmanager
async def refusing(db: asyncpg.Pool) -> AsyncIterator[None]:
    await db.execute(REFUSING)
    try:
        yield
    finally:
        await db.execute(NOT_REFUSING)


async def test_several_rows_refused_by_postgres_in_one_batch_are_found(
    settings: Settings, publish: Publish, clean_db: asyncpg.Pool
) -> None:
    """Rows PostgreSQL refuses (a check constraint) are searched out of a batch, several at
    a time, among replayed duplicates: each is dead-lettered once, every other event is
    applied once, and the rollups count only the applied samples."""
    metrics = [ev.metric(f"svc-{i % 4}", "cpu", float(i)) for i in range(40)]
    bad_metrics = [
        ev.metric("svc-1", "refused", 1.0),
        ev.metric("svc-2", "refused", 2.0, unit="s"),
        ev.metric("svc-3", "refused", 3.0),
    ]
    feedback = [ev.feedback(f"ins-{i}", f"usr-{i}", 1 + i % 5) for i in range(30)]
    bad_feedback = [ev.feedback("ins-1", "refused", 4), ev.feedback("ins-b", "refused", 2)]
    async with refusing(clean_db), running_service(settings, [Stream.METRICS, Stream.FEEDBACK]):
        await publish(
            settings.topics.metrics,
            metrics[:20] + bad_metrics[:2] + metrics[20:] + metrics[:5] + bad_metrics[2:],
        )
        await publish(settings.topics.feedback, feedback[:10] + bad_feedback + feedback[10:])
        await wait_drained(clean_db, settings, [Stream.METRICS, Stream.FEEDBACK])
    stored = await clean_db.fetch("SELECT event_id FROM system_metrics")
    assert sorted(str(r["event_id"]) for r in stored) == sorted(e["id"] for e in metrics)
    assert await clean_db.fetchval("SELECT sum(sample_count) FROM system_metrics_hourly") == 40
    assert await clean_db.fetchval("SELECT sum(sample_count) FROM system_metrics_daily") == 40
    pairs = await clean_db.fetch("SELECT insight_id, user_id FROM insight_feedback")
    assert sorted((r["insight_id"], r["user_id"]) for r in pairs) == sorted(
        (e["data"]["insight_id"], e["data"]["user_id"]) for e in feedback
    )
    dead = await clean_db.fetch("SELECT topic, stage, error_class, record_value FROM dead_letters")
    assert sorted((r["topic"], r["stage"], r["error_class"]) for r in dead) == sorted(
        [(settings.topics.metrics, "apply", "RowRejected")] * 3
        + [(settings.topics.feedback, "apply", "RowRejected")] * 2
    )
    refused = {orjson.loads(r["record_value"])["id"] for r in dead}
    assert refused == {e["id"] for e in bad_metrics + bad_feedback}


COMMIT_MODES = """
CREATE TABLE test_commit_modes (tbl text, mode text);
CREATE FUNCTION test_note_commit_mode() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- a row of system_metrics fires the trigger of its day's partition: name the parent
  INSERT INTO test_commit_modes VALUES (
    regexp_replace(TG_TABLE_NAME, '_(p[0-9]{8}|default)$', ''),
    current_setting('synchronous_commit'));
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER test_commit_mode AFTER INSERT ON system_metrics
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_note_commit_mode();
CREATE CONSTRAINT TRIGGER test_commit_mode AFTER INSERT ON dead_letters
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_note_commit_mode();
"""
"""Deferred triggers run at COMMIT: each row notes the ``synchronous_commit`` its
transaction commits with."""

NO_COMMIT_MODES = """
DROP TRIGGER IF EXISTS test_commit_mode ON system_metrics;
DROP TRIGGER IF EXISTS test_commit_mode ON dead_letters;
DROP FUNCTION IF EXISTS test_note_commit_mode();
DROP TABLE IF EXISTS test_commit_modes;
"""


async def test_only_a_batch_with_dead_letters_waits_for_the_wal_flush(
    make_settings: Any, publish: Publish, clean_db: asyncpg.Pool
) -> None:
    """With asynchronous commits, a batch that publishes dead letters still commits only
    once its WAL is flushed, so a PostgreSQL crash cannot make them be published again;
    batches without dead letters do not wait."""
    settings = make_settings(async_commit=True)
    good = [ev.metric("svc", "cpu", float(i), at=ev.at(i)) for i in range(20)]
    await clean_db.execute(NO_COMMIT_MODES + COMMIT_MODES)
    try:
        async with running_service(settings, [Stream.METRICS]):
            await publish(settings.topics.metrics, [*good[:10], b"\x00 not json"])
            await wait_drained(clean_db, settings, [Stream.METRICS])
            with_dead = await clean_db.fetch("SELECT tbl, mode FROM test_commit_modes")
            await clean_db.execute("TRUNCATE test_commit_modes")
            await publish(settings.topics.metrics, good[10:])
            await wait_drained(clean_db, settings, [Stream.METRICS])
            without = await clean_db.fetch("SELECT tbl, mode FROM test_commit_modes")
    finally:
        await clean_db.execute(NO_COMMIT_MODES)
    assert {r["mode"] for r in with_dead if r["tbl"] == "dead_letters"} == {"on"}
    assert {(r["tbl"], r["mode"]) for r in without} == {("system_metrics", "off")}
    assert len(without) == 10


@pytest.mark.parametrize(
    ("streams", "tables"),
    [
        ([Stream.FEEDBACK], {"stage_insight_feedback"}),
        (list(Stream), {"stage_backfill_jobs", "stage_insight_feedback", "stage_system_metrics"}),
    ],
)
async def test_a_session_holds_the_staging_tables_of_its_pipelines_only(
    settings: Settings, migrated: None, streams: list[Stream], tables: set[str]
) -> None:
    """Each commit empties every ``ON COMMIT DELETE ROWS`` table of its session, used or
    not, so a process running one pipeline (as deployed) carries only that staging table."""
    async with (
        write_pool(settings, build_pipelines(settings, streams)) as pool,
        pool.acquire() as conn,
    ):
        rows = await conn.fetch(
            "SELECT relname FROM pg_class WHERE relnamespace = pg_my_temp_schema()"
        )
    assert {r["relname"] for r in rows} == tables
