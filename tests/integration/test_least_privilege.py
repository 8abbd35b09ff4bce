"""Least privilege in PostgreSQL with the roles of deploy/postgres-roles.sql: migrations as
utxoiq_migrate, the service as utxoiq_ingest (no DDL, no other schema), the read side as
utxoiq_read; a runtime role missing a grant stops with one line naming table and privilege."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg
import pytest

from consumer.pipelines import build_pipelines
from consumer.settings import Settings
from consumer.topics_admin import ensure_topics
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.roles import RoleUrls
from tests.support.running import run_utxoiq, running_service
from tests.support.waiting import wait_until

POISON = b"{not json"
JOB = "00000000-0000-4000-8000-0000000000aa"


async def assert_refused(url: str, statement: str) -> None:
    """``statement``, run by the role of ``url``, fails for want of a privilege."""
    conn = await asyncpg.connect(url)
    try:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(statement)
    finally:
        await conn.close()


def as_role(settings: Settings, role_urls: RoleUrls, role: str) -> Settings:
    return Settings(settings.kafka, role_urls.database(role), settings.topics, settings.ingest)


async def test_migrations_leave_every_table_to_the_migration_role(
    role_urls: RoleUrls, roles_db: asyncpg.Pool
) -> None:
    """The migration role owns schema utxoiq and every table in it; nothing lands in public."""
    owners = await roles_db.fetch(
        "SELECT schemaname, tableowner FROM pg_tables WHERE tableowner LIKE 'utxoiq%'"
    )
    assert owners
    assert {(r["schemaname"], r["tableowner"]) for r in owners} == {("utxoiq", "utxoiq_migrate")}


async def test_the_service_runs_as_the_runtime_role(
    make_settings: Callable[..., Settings],
    role_urls: RoleUrls,
    roles_db: asyncpg.Pool,
    publish: Publish,
) -> None:
    """utxoiq_ingest consumes every pipeline: applies, records dead letters, stores positions."""
    settings = as_role(make_settings(migrate_on_start=False), role_urls, "ingest")
    async with running_service(settings):
        await publish(settings.topics.jobs, [ev.job_created(JOB), POISON])
        await publish(settings.topics.feedback, [ev.feedback("insight-1", "user-1", 5)])
        await publish(settings.topics.metrics, [ev.metric("api", "latency", 2.0)])

        async def applied() -> bool:
            row = await roles_db.fetchrow(
                "SELECT (SELECT count(*) FROM utxoiq.backfill_jobs)"
                " + (SELECT count(*) FROM utxoiq.insight_feedback)"
                " + (SELECT count(*) FROM utxoiq.system_metrics),"
                " (SELECT count(*) FROM utxoiq.dead_letters)"
            )
            return row is not None and (row[0], row[1]) == (3, 1)

        await wait_until(
            applied, within=60, what="3 events applied, 1 dead letter, as utxoiq_ingest"
        )


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE utxoiq.intruder (id int)",
        "CREATE TABLE public.intruder (id int)",
        "ALTER TABLE backfill_jobs ADD COLUMN intruder int",
        "DROP TABLE backfill_jobs",
        "DELETE FROM backfill_jobs",
        "TRUNCATE backfill_jobs",
        "UPDATE alembic_version SET version_num = 'x'",
        "CREATE SCHEMA intruder",
        "SELECT * FROM public.admin_only",
    ],
)
async def test_the_runtime_role_cannot_change_the_schema_or_leave_its_own(
    role_urls: RoleUrls, roles_db: asyncpg.Pool, statement: str
) -> None:
    """No DDL, no DELETE or TRUNCATE, no write to the schema version, nothing outside utxoiq."""
    await roles_db.execute("CREATE TABLE IF NOT EXISTS public.admin_only (id int)")
    await assert_refused(role_urls.ingest, statement)


async def test_the_read_side_runs_as_the_read_only_role(
    make_settings: Callable[..., Settings],
    role_urls: RoleUrls,
    roles_db: asyncpg.Pool,
    publish: Publish,
) -> None:
    """`utxoiq query` answers as utxoiq_read, which may read but not write."""
    settings = as_role(make_settings(migrate_on_start=False), role_urls, "ingest")
    async with running_service(settings, [Stream.JOBS]):
        await publish(settings.topics.jobs, [ev.job_created(JOB)])

        async def applied() -> bool:
            return bool(await roles_db.fetchval("SELECT count(*) FROM utxoiq.backfill_jobs"))

        await wait_until(applied, within=30, what="the job applied")

    reader = as_role(settings, role_urls, "read")
    code, out, err = await run_utxoiq(reader, "query", "jobs", "--json")
    assert code == 0, err
    assert JOB in out
    await assert_refused(role_urls.read, "UPDATE backfill_jobs SET current_block = 0")


async def test_a_missing_grant_stops_the_service_with_one_line(
    make_settings: Callable[..., Settings],
    role_urls: RoleUrls,
    roles_db: asyncpg.Pool,
    publish: Publish,
) -> None:
    """INSERT on backfill_jobs revoked from utxoiq_ingest: `utxoiq consume` exits with one line
    naming the role, the privilege and the table; nothing is dead-lettered or moved past."""
    settings = as_role(make_settings(migrate_on_start=False), role_urls, "ingest")
    await ensure_topics(settings, build_pipelines(settings, [Stream.JOBS]))
    await publish(settings.topics.jobs, [ev.job_created(JOB)])
    await roles_db.execute("REVOKE INSERT ON utxoiq.backfill_jobs FROM utxoiq_ingest")
    try:
        code, _, err = await run_utxoiq(settings, "consume", "--pipeline", "jobs")
    finally:
        await roles_db.execute("GRANT INSERT ON utxoiq.backfill_jobs TO utxoiq_ingest")
    assert code == 1, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last == (
        "utxoiq: error: PostgreSQL role utxoiq_ingest lacks INSERT on table backfill_jobs: "
        "grant it (deploy/postgres-roles.sql)"
    )
    assert await roles_db.fetchval("SELECT count(*) FROM utxoiq.dead_letters") == 0
    moved = await roles_db.fetchval(
        "SELECT count(*) FROM utxoiq.ingest_offsets WHERE next_offset > 0"
    )
    assert moved == 0
