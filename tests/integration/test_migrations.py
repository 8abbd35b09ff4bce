"""Migrations: upgrade, downgrade and upgrade again, and the result matches the models."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from consumer.db.migrate import current_revision, downgrade, head_revision, upgrade
from consumer.db.tables import metadata
from consumer.errors import ConfigurationError
from consumer.metrics.partitions import modelled, partition_name
from consumer.service import prepare_schema
from consumer.settings import DatabaseSettings, IngestSettings, Settings
from tests.support.scratch import scratch_database as scratch


@pytest.fixture
async def scratch_database(database_settings: DatabaseSettings) -> AsyncIterator[DatabaseSettings]:
    async with scratch(database_settings, "migrate") as database:
        yield database


async def _tables(settings: DatabaseSettings) -> set[str]:
    conn = await asyncpg.connect(settings.dsn)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


async def _differences(settings: DatabaseSettings) -> list[object]:
    engine = create_async_engine(settings.sqlalchemy_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"include_name": modelled}), metadata
                )
            )
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade_leaves_exactly_the_modelled_schema(
    scratch_database: DatabaseSettings,
) -> None:
    """Upgrading an empty database creates every table with no drift from the SQLAlchemy
    models, downgrading to base removes them all, and upgrading again works."""
    await asyncio.to_thread(upgrade, scratch_database)
    assert {t.name for t in metadata.sorted_tables} <= await _tables(scratch_database)
    assert await _differences(scratch_database) == []
    await asyncio.to_thread(downgrade, scratch_database, "base")
    assert await _tables(scratch_database) == {"alembic_version"}
    await asyncio.to_thread(upgrade, scratch_database)
    conn = await asyncpg.connect(scratch_database.dsn)
    try:
        assert await conn.fetchval("SELECT version_num FROM alembic_version") == head_revision()
    finally:
        await conn.close()


async def test_constraints_make_bad_rows_impossible(clean_db: asyncpg.Pool) -> None:
    """The tables refuse rows that break the contract even when written behind the service."""
    bad = [
        "INSERT INTO insight_feedback (insight_id, user_id, rating, flags, submitted_at, event_id)"
        " VALUES ('i', 'u', 6, '{}', now(), gen_random_uuid())",
        "INSERT INTO insight_feedback (insight_id, user_id, rating, flags, submitted_at, event_id)"
        " VALUES ('i', 'u', 3, '{rude}', now(), gen_random_uuid())",
        "INSERT INTO backfill_jobs (job_id, job_type, start_block, end_block, status, created_by,"
        " sequence, created_at, updated_at) VALUES (gen_random_uuid(), 'b', 10, 5, 'pending', 'x',"
        " 0, now(), now())",
        "INSERT INTO backfill_jobs (job_id, job_type, start_block, end_block, current_block,"
        " status, created_by, sequence, created_at, updated_at) VALUES (gen_random_uuid(), 'b',"
        " 0, 5, 9, 'running', 'x', 1, now(), now())",
        "INSERT INTO backfill_jobs (job_id, job_type, start_block, end_block, status, created_by,"
        " sequence, created_at, updated_at) VALUES (gen_random_uuid(), 'b', 0, 5, 'paused', 'x',"
        " 0, now(), now())",
        'INSERT INTO dead_letters (topic, partition, "offset", consumer_group, stage,'
        " error_class, error_message, failed_at) VALUES ('t', 0, 0, 'g', 'parse', 'E', 'm', now())",
    ]
    for statement in bad:
        with pytest.raises(asyncpg.IntegrityConstraintViolationError):
            await clean_db.execute(statement)


async def test_replicas_starting_together_migrate_once(
    scratch_database: DatabaseSettings,
) -> None:
    """Three processes migrating an empty database at once all succeed and leave it at the
    newest revision: the advisory lock lets one migrate while the others wait."""
    env = {**os.environ, "DATABASE_URL": scratch_database.dsn}
    command = [sys.executable, "-m", "consumer.cli.main", "db", "upgrade"]
    processes = [
        await asyncio.create_subprocess_exec(
            *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        for _ in range(3)
    ]
    results = [await p.communicate() for p in processes]
    assert [p.returncode for p in processes] == [0, 0, 0], results
    assert await current_revision(scratch_database) == head_revision()
    assert await _differences(scratch_database) == []


async def _utxoiq_db(database: DatabaseSettings, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "consumer.cli.main", "db", *args),
        env={**os.environ, "DATABASE_URL": database.dsn},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_a_downgrade_lists_what_it_would_undo_until_told_to_execute(
    scratch_database: DatabaseSettings,
) -> None:
    """Reverting migrations drops tables and their rows, so a downgrade names its target
    and forecasts by default, as every destructive command does."""
    await asyncio.to_thread(upgrade, scratch_database)
    tables = await _tables(scratch_database)

    code, out, err = await _utxoiq_db(scratch_database, "downgrade", "base")
    assert code == 0, err
    assert "would undo" in out and "0001" in out and "dry run" in out
    assert await _tables(scratch_database) == tables

    code, _, err = await _utxoiq_db(scratch_database, "downgrade", "no-such-revision")
    assert code == 2 and err.count("\n") == 1 and "no-such-revision" in err

    code, _, err = await _utxoiq_db(scratch_database, "downgrade", "base", "--execute")
    assert code == 0, err
    assert await _tables(scratch_database) == {"alembic_version"}


async def test_a_consumer_brings_an_empty_database_to_the_newest_revision(
    scratch_database: DatabaseSettings,
) -> None:
    """Starting on an empty database, the consumer's start-up migrates it."""
    await prepare_schema(Settings(database=scratch_database))
    assert await current_revision(scratch_database) == head_revision()


async def test_a_database_behind_the_code_stops_start_up_when_migrating_is_off(
    scratch_database: DatabaseSettings,
) -> None:
    """With UTXOIQ_MIGRATE_ON_START=false, a schema behind the code is refused in one line."""
    settings = Settings(database=scratch_database, ingest=IngestSettings(migrate_on_start=False))
    with pytest.raises(ConfigurationError, match="run `utxoiq db upgrade` first"):
        await prepare_schema(settings)


async def test_a_database_migrated_by_a_newer_release_stops_start_up_in_one_line(
    scratch_database: DatabaseSettings,
) -> None:
    """A revision this code does not know means a newer release migrated the database:
    the consumer refuses to start, naming both revisions, whatever UTXOIQ_MIGRATE_ON_START."""
    await asyncio.to_thread(upgrade, scratch_database)
    conn = await asyncpg.connect(scratch_database.dsn)
    try:
        await conn.execute("UPDATE alembic_version SET version_num = '9999'")
    finally:
        await conn.close()
    with pytest.raises(ConfigurationError, match="at 9999, which this consumer") as caught:
        await prepare_schema(Settings(database=scratch_database))
    assert "\n" not in str(caught.value)


async def test_partitioning_an_existing_table_keeps_its_rows_and_rollups(
    scratch_database: DatabaseSettings,
) -> None:
    """Migrating a database whose system_metrics holds samples of several days moves every
    row into a partition of its day and leaves the rollups as they were."""
    await asyncio.to_thread(upgrade, scratch_database, "0002")
    conn = await asyncpg.connect(scratch_database.dsn)
    try:
        await conn.execute(
            "INSERT INTO system_metrics (event_id, service_name, metric_type, value, unit,"
            " recorded_at) SELECT gen_random_uuid(), 'svc', 'cpu', n, 'ms',"
            " now() - n * interval '1 hour' FROM generate_series(0, 999) AS n"
        )
        before = await conn.fetch("SELECT * FROM system_metrics ORDER BY event_id")
        await asyncio.to_thread(upgrade, scratch_database)
        after = await conn.fetch("SELECT * FROM system_metrics ORDER BY event_id")
        homes = await conn.fetch(
            "SELECT DISTINCT tableoid::regclass::text AS home,"
            " (recorded_at AT TIME ZONE 'UTC')::date AS day FROM system_metrics"
        )
    finally:
        await conn.close()
    assert [dict(r) for r in after] == [dict(r) for r in before]
    assert {r["home"] for r in homes} == {partition_name(r["day"]) for r in homes}
    assert await _differences(scratch_database) == []
