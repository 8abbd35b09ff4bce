"""Daily metrics partitions against real PostgreSQL: made ahead, dropped behind, and no
sample lost or dead-lettered for want of its day's partition."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from consumer.metrics.maintain import attached_days, maintain
from consumer.metrics.partitions import DEFAULT_PARTITION, partition_name, wanted_days
from consumer.metrics.window import BEYOND_HORIZON_REASON, SampleWindow
from consumer.outcomes import Decoded, Outcome
from consumer.settings import DatabaseSettings, MetricsRetentionSettings, Settings
from consumer.writers.metrics import write_metrics
from schemas import decode
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.running import running_service
from tests.support.scratch import scratch_database, scratch_pool
from tests.support.waiting import wait_until
from tests.unit.helpers import record

RETENTION = MetricsRetentionSettings()
WINDOW = SampleWindow.of(RETENTION)


@pytest.fixture
async def partitioned(database_settings: DatabaseSettings) -> AsyncIterator[asyncpg.Pool]:
    """A database of its own at the newest revision (today and seven days ahead made)."""
    async with scratch_pool(database_settings, "partitions") as created:
        yield created


def _decoded(events: Sequence[dict[str, object]]) -> list[Decoded]:
    return [Decoded(record(e, offset=i), decode(ev.to_bytes(e))) for i, e in enumerate(events)]


async def _write(pool: asyncpg.Pool, events: Sequence[dict[str, object]]) -> None:
    async with pool.acquire() as conn, conn.transaction():
        result = await write_metrics(conn, _decoded(events))
        assert result.rejected == []


async def _where(pool: asyncpg.Pool, event_id: str) -> list[str]:
    rows = await pool.fetch(
        "SELECT tableoid::regclass::text AS home FROM system_metrics WHERE event_id = $1",
        uuid.UUID(event_id),
    )
    return [row["home"] for row in rows]


async def test_maintainers_running_at_once_make_the_window_once(partitioned: asyncpg.Pool) -> None:
    """Two maintainers at once both succeed; together they make every day of the window
    once, and a third run finds nothing to do."""
    now = datetime.now(UTC)
    async with partitioned.acquire() as one, partitioned.acquire() as two:
        first, second = await asyncio.gather(
            maintain(one, RETENTION, now), maintain(two, RETENTION, now)
        )
        third = await maintain(one, RETENTION, now)
        days = await attached_days(one)
    assert sorted(first.created + second.created) == sorted(set(first.created + second.created))
    assert days == wanted_days(WINDOW, now)
    assert (third.created, third.dropped) == ([], [])
    assert third.days_ahead > RETENTION.future_horizon_days


async def test_a_sample_whose_day_has_no_partition_waits_and_moves_in_when_it_is_made(
    partitioned: asyncpg.Pool,
) -> None:
    """A sample ten days old (kept, but its day not made yet) is stored in the default
    partition, rolled up once, and moved into its day's partition by maintenance."""
    moment = datetime.now(UTC) - timedelta(days=10)
    sample = ev.metric("svc", "cpu", 2.5, at=moment)

    await _write(partitioned, [sample])
    assert await _where(partitioned, sample["id"]) == [DEFAULT_PARTITION]

    async with partitioned.acquire() as conn:
        report = await maintain(conn, RETENTION)
    assert report.moved_from_default == 1
    assert await _where(partitioned, sample["id"]) == [partition_name(moment.date())]
    assert await partitioned.fetchval("SELECT sum(sample_count) FROM system_metrics_hourly") == 1
    assert await partitioned.fetchval(f"SELECT count(*) FROM {DEFAULT_PARTITION}") == 0


async def test_the_same_id_at_another_time_is_another_sample_and_a_repeat_is_not(
    partitioned: asyncpg.Pool,
) -> None:
    """The key is (time, id): a redelivery adds nothing, the id at a new time is new."""
    first = ev.metric("svc", "cpu", 1.0, at=datetime.now(UTC) - timedelta(hours=1))
    later = {**first, "time": (datetime.now(UTC) - timedelta(minutes=1)).isoformat()}

    await _write(partitioned, [first, first, later])
    await _write(partitioned, [later])

    assert await partitioned.fetchval("SELECT count(*) FROM system_metrics") == 2
    assert await partitioned.fetchval("SELECT sum(sample_count) FROM system_metrics_daily") == 2


async def test_retention_drops_whole_days_and_trims_hourly_rollups(
    partitioned: asyncpg.Pool,
) -> None:
    """Days wholly past the retention are detached and dropped with their samples; hourly
    buckets past theirs are deleted; daily buckets stay while no daily retention is set."""
    now = datetime.now(UTC)
    async with partitioned.acquire() as conn:
        await maintain(conn, RETENTION, now)
    await _write(partitioned, [ev.metric("svc", "cpu", 1.0, at=now - timedelta(days=29))])
    ancient = now - timedelta(days=RETENTION.hourly_retention_days + 1)
    for table in ("system_metrics_hourly", "system_metrics_daily"):
        await partitioned.execute(
            f"INSERT INTO {table} VALUES ('svc', 'cpu', $1, 'ms', 1, 1, 1, 1)", ancient
        )

    later = now + timedelta(days=3)
    async with partitioned.acquire() as conn:
        report = await maintain(conn, RETENTION, later)
        days = await attached_days(conn)

    assert report.dropped == [
        day for day in wanted_days(WINDOW, now) if day < WINDOW.oldest_kept(later).date()
    ]
    assert days == wanted_days(WINDOW, later)
    assert await partitioned.fetchval("SELECT count(*) FROM system_metrics") == 0
    assert report.hourly_deleted == 1
    assert await partitioned.fetchval("SELECT count(*) FROM system_metrics_daily") == 2
    assert (
        await partitioned.fetchval(
            "SELECT count(*) FROM pg_class WHERE relname = $1", partition_name(report.dropped[0])
        )
        == 0
    )


async def test_retention_running_while_the_consumer_writes_loses_nothing(
    make_settings: Callable[..., Settings],
    database_settings: DatabaseSettings,
    publish: Publish,
) -> None:
    """While the consumer drains 3,000 samples from Kafka, maintenance drops ten days of
    partitions: every sample is stored once, nothing is dead-lettered."""
    async with scratch_database(database_settings, "retention") as database:
        base = make_settings()
        settings = Settings(base.kafka, database, base.topics, base.ingest)
        now = datetime.now(UTC)
        events = [
            ev.metric(f"svc-{n % 3}", "cpu", float(n), at=now - timedelta(milliseconds=n))
            for n in range(3_000)
        ]
        async with running_service(settings, [Stream.METRICS]):
            conn = await asyncpg.connect(database.dsn)
            try:
                await maintain(conn, RETENTION, now)
                _, report = await asyncio.gather(
                    publish(settings.topics.metrics, events),
                    maintain(conn, RETENTION, now + timedelta(days=10)),
                )

                async def stored() -> bool:
                    count: int = await conn.fetchval("SELECT count(*) FROM system_metrics")
                    return count == len(events)

                await wait_until(stored, within=60, what="every sample stored")
                assert len(report.dropped) == 10
                assert await conn.fetchval("SELECT count(*) FROM dead_letters") == 0
                assert await conn.fetchval(
                    "SELECT sum(sample_count) FROM system_metrics_daily"
                ) == len(events)
            finally:
                await conn.close()


async def test_samples_outside_the_window_are_expired_or_refused_and_never_written(
    partitioned: asyncpg.Pool,
) -> None:
    """An expired sample is counted and neither stored nor rolled up; one past the horizon
    is refused at validate; the sample inside is written."""
    now = datetime.now(UTC)
    inside = ev.metric("svc", "cpu", 1.0, at=now)
    old = ev.metric("svc", "cpu", 100.0, at=now - timedelta(days=31))
    ahead = ev.metric("svc", "cpu", 1000.0, at=now + timedelta(days=8))
    async with partitioned.acquire() as conn, conn.transaction():
        result = await write_metrics(conn, _decoded([inside, old, ahead]))

    assert result.outcomes[Outcome.INSERTED] == 1
    assert result.outcomes[Outcome.EXPIRED] == 1
    assert [(d.stage, d.event_id) for d in result.rejected] == [("validate", ahead["id"])]
    assert await partitioned.fetchval("SELECT sum(value_sum) FROM system_metrics_daily") == 1.0
    assert await partitioned.fetchval("SELECT count(*) FROM system_metrics") == 1


async def test_the_consumer_counts_expired_samples_and_dead_letters_those_too_far_ahead(
    settings: Settings, publish: Publish, db: asyncpg.Pool
) -> None:
    """Through Kafka: the sample inside the window is stored, the expired one only counted,
    the one past the horizon dead-lettered at validate with the reason."""
    now = datetime.now(UTC)
    inside = ev.metric("svc", "cpu", 1.0, at=now)
    old = ev.metric("svc", "cpu", 100.0, at=now - timedelta(days=31))
    ahead = ev.metric("svc", "cpu", 1000.0, at=now + timedelta(days=8))
    async with running_service(settings, [Stream.METRICS]) as service:
        await publish(settings.topics.metrics, [inside, old, ahead])
        sample = service.telemetry.registry.get_sample_value
        labels = {"pipeline": "metrics", "topic": settings.topics.metrics}

        async def settled() -> bool:
            return sample("utxoiq_records_total", {**labels, "outcome": "expired"}) == 1 and bool(
                await db.fetchval("SELECT count(*) FROM dead_letters") == 1
            )

        await wait_until(settled, within=60, what="the three samples consumed")
    assert await db.fetchval("SELECT count(*) FROM system_metrics") == 1
    assert await db.fetchval("SELECT sum(value_sum) FROM system_metrics_daily") == 1.0
    row = await db.fetchrow("SELECT stage, error_class, event_id FROM dead_letters")
    assert tuple(row or ()) == ("validate", BEYOND_HORIZON_REASON, ahead["id"])
