"""Whose fault an error is: no single record stalls a pipeline, and an error of the
server or the deployment never dead-letters one."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import DefaultPartitioner

from consumer.db.migrate import upgrade
from consumer.errors import RecordFault
from consumer.health import ProgressWatch, StallBounds, liveness
from consumer.pipelines import build_pipelines
from consumer.settings import DatabaseSettings, Settings
from consumer.topics_admin import ensure_topics
from consumer.writers.isolate import write_isolating
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.drain import wait_drained
from tests.support.running import ConsumerProcess, running_service
from tests.support.waiting import wait_until

OVERFLOWING_TIMES = ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00")


def _metric_at(service: str, time: str) -> dict[str, Any]:
    event = ev.metric(service, "cpu", 1.0)
    return {**event, "time": time}


def _unindexable_metric(service: str) -> dict[str, Any]:
    """A valid sample PostgreSQL cannot index: 1,024 random three-byte characters in
    ``metric_type`` make the series index's row longer than a btree allows (SQLSTATE
    54000, an error of no kind the classifier knows)."""
    rng = random.Random(service)
    metric_type = "".join(chr(rng.randint(0x4E00, 0x9FFF)) for _ in range(1024))
    return ev.metric(service, metric_type, 2.0)


async def test_overflowing_times_among_good_records_stall_no_partition(
    make_settings: Callable[..., Settings], publish: Publish, clean_db: asyncpg.Pool
) -> None:
    """Two valid RFC 3339 times whose UTC form leaves the years 1 to 9999, among good
    records on every partition: every good record is applied, both are dead-lettered
    (never retried), and every partition's position reaches its end."""
    settings = make_settings(write_lanes=3, batch_max_records=50)
    good = [ev.metric(f"svc-{n % 12}", "cpu", float(n)) for n in range(600)]
    bad = [_metric_at(f"svc-{n}", time) for n, time in enumerate(OVERFLOWING_TIMES)]
    async with running_service(settings, [Stream.METRICS]):
        await publish(settings.topics.metrics, good[:300] + bad + good[300:])
        await wait_drained(clean_db, settings, [Stream.METRICS], within=90)
    assert await clean_db.fetchval("SELECT count(*) FROM system_metrics") == len(good)
    rows = await clean_db.fetch("SELECT stage, record_value FROM dead_letters")
    assert len(rows) == 2
    assert {r["stage"] for r in rows} <= {"validate", "apply"}
    assert await clean_db.fetchval("SELECT sum(attempts) FROM dead_letters") == 2


async def test_an_error_of_unknown_kind_is_isolated_to_its_record(
    make_settings: Callable[..., Settings], publish: Publish, clean_db: asyncpg.Pool
) -> None:
    """A record PostgreSQL refuses with an error of no known kind is split out of its
    batch and dead-lettered at ``apply`` with that error's class; the good records of
    the same batch are applied."""
    settings = make_settings(write_lanes=1, batch_max_records=500, batch_max_age_ms=500)
    good = [ev.metric("svc", "cpu", float(n)) for n in range(200)]
    bad = _unindexable_metric("svc")
    async with running_service(settings, [Stream.METRICS]):
        await publish(settings.topics.metrics, [*good[:100], bad, *good[100:]])
        await wait_drained(clean_db, settings, [Stream.METRICS], within=90)
    assert await clean_db.fetchval("SELECT count(*) FROM system_metrics") == len(good)
    row = await clean_db.fetchrow("SELECT stage, error_class, error_message FROM dead_letters")
    assert (row["stage"], row["error_class"]) == ("apply", "ProgramLimitExceededError")
    assert "index row" in row["error_message"]


async def test_an_unknown_error_is_a_rows_fault_only_when_it_recurs_alone(
    clean_db: asyncpg.Pool,
) -> None:
    """Splitting a batch on an error of unknown kind: a row that fails again alone is
    refused with the error's class, one whose second attempt succeeds is written, and so
    is every other row."""
    failures = {3: 10**6, 7: 1}  # row 3 always fails, row 7 once

    async def merge(conn: asyncpg.Connection, rows: Sequence[int], savepoint: str) -> int:
        await conn.execute(f"SAVEPOINT {savepoint}")
        for row in rows:
            if failures.get(row, 0) > 0:
                failures[row] -= 1
                raise LookupError(f"row {row} cannot be written")
        await conn.executemany("INSERT INTO isolated VALUES ($1)", [(r,) for r in rows])
        return len(rows)

    async with clean_db.acquire() as conn, conn.transaction():
        await conn.execute("CREATE TEMPORARY TABLE isolated (n int) ON COMMIT DROP")
        written, refused = await write_isolating(conn, list(range(10)), merge)
        stored = sorted(r["n"] for r in await conn.fetch("SELECT n FROM isolated"))
    assert stored == [n for n in range(10) if n != 3]
    assert sum(written) == 9
    assert [(row, type(error)) for row, error in refused] == [(3, RecordFault)]
    assert isinstance(refused[0][1], RecordFault)
    assert refused[0][1].error_class == "LookupError"


@contextlib.asynccontextmanager
async def _database_without_insert(admin_url: str) -> AsyncIterator[DatabaseSettings]:
    """A migrated scratch database in which the service's role (the test's, switched to
    a role of its own by the database's settings) lacks INSERT on system_metrics."""
    name, role = f"utxoiq_grant_{uuid.uuid4().hex[:8]}", f"utxoiq_test_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(admin_url)
    scratch = DatabaseSettings(url=urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}")))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        await asyncio.to_thread(upgrade, scratch)
        await admin.execute(f"CREATE ROLE {role} NOLOGIN")
        conn = await asyncpg.connect(scratch.dsn)
        try:
            await conn.execute(
                f"GRANT SELECT, INSERT, UPDATE ON ALL TABLES IN SCHEMA public TO {role};"
                f" REVOKE INSERT ON system_metrics FROM {role};"
                f' ALTER ROLE CURRENT_USER IN DATABASE "{name}" SET role = {role}'
            )
        finally:
            await conn.close()
        yield scratch
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f"DROP ROLE IF EXISTS {role}")
        await admin.close()


async def _count(database: DatabaseSettings, query: str) -> int:
    conn = await asyncpg.connect(database.dsn)
    try:
        await conn.execute("RESET ROLE")
        return int(await conn.fetchval(query))
    finally:
        await conn.close()


async def test_a_revoked_grant_stops_the_service_with_one_line_and_dead_letters_nothing(
    make_settings: Callable[..., Settings], publish: Publish, clean_db: asyncpg.Pool, tmp_path: Any
) -> None:
    """A role without INSERT on system_metrics: the consumer stops (exit 1) with one line
    naming the table and the privilege; nothing is dead-lettered, no position moves."""
    base = make_settings(migrate_on_start=False, write_lanes=1)
    async with _database_without_insert(base.database.url.get_secret_value()) as database:
        settings = Settings(base.kafka, database, base.topics, base.ingest)
        await ensure_topics(base, build_pipelines(base, [Stream.METRICS]))
        await publish(settings.topics.metrics, [ev.metric("svc", "cpu", 1.0)] * 5)
        log = tmp_path / "consumer.log"
        process = ConsumerProcess(settings, "--pipeline", "metrics", log_path=log).start()
        try:
            code = await _exit_code(process)
        finally:
            if process.alive:
                process.kill()
        text = log.read_text()
        last = text.strip().splitlines()[-1]
        assert code == 1, text[-3000:]
        assert last.startswith("utxoiq: error:"), last
        assert "lacks INSERT on table system_metrics" in last, last
        assert "Traceback" not in text
        assert await _count(database, "SELECT count(*) FROM dead_letters") == 0
        assert await _count(database, "SELECT count(*) FROM ingest_offsets") == 0


async def _exit_code(process: ConsumerProcess) -> int:
    async def exited() -> bool:
        return not process.alive

    await wait_until(exited, within=90, what="the consumer to stop")
    assert process.proc is not None
    return int(process.proc.returncode)


async def test_an_endless_retry_trips_liveness_and_holds_no_other_lane(
    make_settings: Callable[..., Settings],
    publish: Publish,
    producer: AIOKafkaProducer,
    clean_db: asyncpg.Pool,
) -> None:
    """A job row locked elsewhere makes its lane's batch time out and retry without end:
    liveness fails within its bound naming the partition, while the jobs of the other
    lanes' partitions are applied; once the lock goes, everything is applied."""
    base = make_settings(write_lanes=3, health_stall_s=4, health_paused_stall_s=4)
    database = DatabaseSettings(url=base.database.url.get_secret_value(), statement_timeout_ms=500)
    settings = Settings(base.kafka, database, base.topics, base.ingest)
    jobs = [str(uuid.uuid4()) for _ in range(12)]
    async with running_service(settings, [Stream.JOBS]) as service:
        await publish(settings.topics.jobs, [ev.job_created(job) for job in jobs])
        await wait_drained(clean_db, settings, [Stream.JOBS])
        locked = jobs[0]
        topic = settings.topics.jobs
        partition = await _partition_of(producer, topic, locked)
        others = [j for j in jobs if await _partition_of(producer, topic, j) != partition]
        assert others, "every job hashed to one partition"
        watch, bounds = ProgressWatch(), StallBounds.of(settings.ingest)
        assert liveness(
            service.statuses(), bounds, watch
        ).ok  # the watch sees the partitions before the lock
        async with clean_db.acquire() as holder, holder.transaction():
            await holder.execute(
                "SELECT 1 FROM backfill_jobs WHERE job_id = $1 FOR UPDATE", uuid.UUID(locked)
            )
            await publish(settings.topics.jobs, [ev.job_progress(locked, 5, 1)])
            await publish(settings.topics.jobs, [ev.job_progress(j, 7, 1) for j in others])

            async def others_applied() -> bool:
                count = await clean_db.fetchval(
                    "SELECT count(*) FROM backfill_jobs WHERE current_block = 7"
                )
                return bool(count == len(others))

            await wait_until(others_applied, within=30, what="the other lanes' jobs applied")

            async def dead() -> str | None:
                verdict = liveness(service.statuses(), bounds, watch)
                return None if verdict.ok else verdict.checks["jobs"]

            reason = await wait_until(dead, within=30, interval=0.5, what="liveness to fail")
            assert reason is not None and f"[{partition}]" in reason
        await wait_drained(clean_db, settings, [Stream.JOBS])
        assert liveness(service.statuses(), bounds, ProgressWatch()).ok
    assert (
        await clean_db.fetchval(
            "SELECT current_block FROM backfill_jobs WHERE job_id = $1", uuid.UUID(locked)
        )
        == 5
    )
    assert await clean_db.fetchval("SELECT count(*) FROM dead_letters") == 0


async def _partition_of(producer: AIOKafkaProducer, topic: str, job: str) -> int:
    """The partition the default partitioner gives a job's key."""
    partitions = sorted(await producer.partitions_for(topic))
    return int(DefaultPartitioner()(job.encode(), partitions, partitions))
