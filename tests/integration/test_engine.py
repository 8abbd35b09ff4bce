"""The engine against real Kafka and PostgreSQL: effects, lanes, replay, poison records
and aborted transactions (PostgreSQL's own side of a batch: test_engine_postgres.py)."""

from __future__ import annotations

import random
import uuid
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from consumer.settings import Settings
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.drain import wait_drained
from tests.support.model import assert_tables_match
from tests.support.running import running_service
from tests.support.streams import mixed_stream
from tests.support.waiting import wait_until


async def _publish_stream(publish: Publish, settings: Settings, stream: Any) -> None:
    await publish(settings.topics.jobs, stream.jobs)
    await publish(settings.topics.feedback, stream.feedback)
    await publish(settings.topics.metrics, stream.metrics)


async def dead_letter_records(settings: Settings, topic: str, count: int) -> list[Any]:
    """Read ``count`` records from a DLQ topic without joining any group."""
    client = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka.bootstrap_servers, auto_offset_reset="earliest",
        enable_auto_commit=False,
    )  # fmt: skip
    await client.start()
    try:
        found: list[Any] = []
        for _ in range(200):
            batch = await client.getmany(timeout_ms=200)
            for messages in batch.values():
                found.extend(messages)
            if len(found) >= count:
                break
        return found
    finally:
        await client.stop()


async def test_metric_events_become_exactly_those_rows(
    settings: Settings, publish: Publish, clean_db: asyncpg.Pool
) -> None:
    """Published metric events appear once each in system_metrics, with rollups to match."""
    events = [ev.metric(f"svc-{i % 3}", "latency", float(i), at=ev.at(i * 600)) for i in range(50)]
    async with running_service(settings, [Stream.METRICS]):
        await publish(settings.topics.metrics, events)
        await wait_drained(clean_db, settings, [Stream.METRICS])
    rows = await clean_db.fetch("SELECT event_id, service_name, value FROM system_metrics")
    assert {(str(r["event_id"]), r["service_name"], r["value"]) for r in rows} == {
        (e["id"], e["data"]["service_name"], e["data"]["value"]) for e in events
    }
    hourly = await clean_db.fetchval("SELECT sum(sample_count) FROM system_metrics_hourly")
    daily = await clean_db.fetchval("SELECT sum(sample_count) FROM system_metrics_daily")
    assert hourly == daily == 50


@pytest.mark.parametrize(("lanes", "pool_cap"), [(1, None), (4, None), (4, 2)])
async def test_any_number_of_write_lanes_gives_the_same_rows(
    make_settings: Any, publish: Publish, clean_db: asyncpg.Pool, lanes: int, pool_cap: int | None
) -> None:
    """One lane, more lanes than a topic has partitions, or lanes taking turns for the
    connections of a capped pool: the model's rows every time."""
    settings = make_settings(write_lanes=lanes, batch_max_records=150)
    settings.database = settings.database.model_copy(update={"pool_max_size": pool_cap})
    stream = mixed_stream(random.Random(23), jobs=40, feedback=500, metrics=1200)
    async with running_service(settings) as service:
        assert service.pool is not None and service.pool.get_max_size() == (
            pool_cap or 3 * lanes + 1
        )
        await _publish_stream(publish, settings, stream)
        await wait_drained(clean_db, settings)
    await assert_tables_match(clean_db, stream.model())


async def test_mixed_stream_converges_to_the_model_and_replay_changes_nothing(
    settings: Settings, publish: Publish, clean_db: asyncpg.Pool
) -> None:
    """All three pipelines reach the model's state; consuming everything again changes no row."""
    stream = mixed_stream(random.Random(11), jobs=60, feedback=600, metrics=1500)
    async with running_service(settings):
        await _publish_stream(publish, settings, stream)
        await wait_drained(clean_db, settings)
    model = stream.model()
    await assert_tables_match(clean_db, model)
    snapshot = await _snapshot(clean_db)

    await clean_db.execute("DELETE FROM ingest_offsets")  # replay from offset 0
    async with running_service(settings):
        await wait_drained(clean_db, settings)
    assert await _snapshot(clean_db) == snapshot


async def _snapshot(db: asyncpg.Pool) -> dict[str, list[Any]]:
    tables = {
        "backfill_jobs": "job_id", "insight_feedback": "insight_id, user_id",
        "system_metrics": "event_id", "system_metrics_hourly": "1, 2, 3, 4",
        "system_metrics_daily": "1, 2, 3, 4", "dead_letters": "topic, partition, \"offset\"",
    }  # fmt: skip
    snapshot = {}
    for table, order in tables.items():
        rows = await db.fetch(f"SELECT * FROM {table} ORDER BY {order}")
        drop = {"ingested_at", "updated_at", "attempts", "failed_at", "dlq_partition", "dlq_offset"}
        snapshot[table] = [
            {k: v for k, v in dict(r).items() if k not in drop or table == "backfill_jobs"}
            for r in rows
        ]
    return snapshot


def _poison(settings: Settings, job_id: str) -> list[tuple[str, bytes | dict[str, Any], str, str]]:
    """(topic, value, stage, error class) for each kind of bad record the contract names."""
    metric = ev.metric("svc", "cpu", 1.0)
    feedback = ev.feedback("i", "u", 3)
    created = ev.job_created(str(uuid.uuid4()), start=0, end=10)
    jobs, fb, metrics = settings.topics.jobs, settings.topics.feedback, settings.topics.metrics
    invalid = "ContractViolation"
    return [
        (metrics, b"\x00\x01 not json", "decode", "MalformedJson"),
        (metrics, b'{"specversion": "1.0"', "decode", "MalformedJson"),
        (metrics, b'{"pad": "' + b"x" * 3000 + b'"}', "decode", "EventTooLarge"),
        (
            metrics,
            ev.to_bytes(metric).replace(b'"value":1.0', b'"value":NaN'),
            "decode",
            "MalformedJson",
        ),
        (metrics, ev.to_bytes(metric).replace(b'"svc"', b'"s\xffc"'), "decode", "InvalidUtf8"),
        (metrics, b"[1, 2]", "validate", invalid),
        (metrics, {**metric, "type": "utxoiq.system.metric.nope"}, "validate", "UnknownEventType"),
        (metrics, {**metric, "time": "9999-12-31T23:59:59-12:00"}, "validate", invalid),
        (fb, _data(feedback, rating=9), "validate", invalid),
        (fb, _data(feedback, rating=_REMOVE), "validate", invalid),
        (jobs, _data(created, start_block=50, end_block=5), "validate", invalid),
        (jobs, ev.job_progress(str(uuid.uuid4()), 3, 1), "apply", "UnknownJob"),
        (jobs, ev.job_progress(job_id, 10_000_000, 99), "apply", "BlockOutOfRange"),
        (fb, ev.feedback("i\x00nul", "u", 4), "validate", invalid),
        (jobs, ev.job_created(str(uuid.uuid4()), job_type="a\x00nul"), "validate", invalid),
    ]


_REMOVE = object()


def _data(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The event with data fields changed (``_REMOVE`` removes the field)."""
    data = {**event["data"], **changes}
    return {**event, "data": {k: v for k, v in data.items() if v is not _REMOVE}}


async def test_poison_records_are_dead_lettered_and_good_ones_applied(
    make_settings: Any, publish: Publish, clean_db: asyncpg.Pool
) -> None:
    """About 1% poison of every kind: each bad record lands in its DLQ with the right stage,
    class and coordinates, every good record is applied, and the breaker stays closed."""
    settings = make_settings(max_event_bytes=2048)
    rng = random.Random(5)
    stream = mixed_stream(rng, jobs=40, feedback=400, metrics=800)
    job_id = stream.jobs[0]["data"]["job_id"]
    poison = _poison(settings, job_id)
    by_topic: dict[str, list[dict[str, Any] | bytes]] = {
        settings.topics.jobs: list(stream.jobs),
        settings.topics.feedback: list(stream.feedback),
        settings.topics.metrics: list(stream.metrics),
    }
    for topic, value, _, _ in poison:
        records = by_topic[topic]
        records.insert(rng.randint(1, len(records)), value)
    async with running_service(settings) as service:
        for topic, records in by_topic.items():
            await publish(topic, records)
        await wait_drained(clean_db, settings)
        assert not any(s.breaker_open for s in service.statuses())
    await assert_tables_match(clean_db, stream.model())

    rows = await clean_db.fetch(
        'SELECT topic, partition, "offset", stage, error_class, record_value, status'
        ' FROM dead_letters ORDER BY topic, partition, "offset"'
    )
    assert sorted((r["topic"], r["stage"], r["error_class"]) for r in rows) == sorted(
        (topic, stage, error_class) for topic, _, stage, error_class in poison
    )
    assert {r["status"] for r in rows} == {"pending"}
    for topic in by_topic:
        expected = [r for r in rows if r["topic"] == topic]
        published = await dead_letter_records(settings, topic + ".dlq", len(expected))
        assert len(published) == len(expected)
        for message in published:
            headers = {k: v.decode() for k, v in message.headers}
            coords = (headers["dlq.original.topic"], int(headers["dlq.original.partition"]),
                      int(headers["dlq.original.offset"]))  # fmt: skip
            row = next(r for r in expected if (r["topic"], r["partition"], r["offset"]) == coords)
            assert message.value == row["record_value"]
            assert headers["dlq.error.stage"] == row["stage"]
            assert headers["dlq.error.class"] == row["error_class"]
            assert headers["dlq.consumer.group"].startswith(settings.ingest.group_prefix)
            assert headers["dlq.redrive.count"] == "0"
            assert {"dlq.error.message", "dlq.failed.at", "dlq.original.timestamp"} <= set(headers)


async def test_records_of_aborted_producer_transactions_are_never_applied(
    settings: Settings, clean_db: asyncpg.Pool
) -> None:
    """With read-committed isolation, events from an aborted Kafka transaction never reach
    PostgreSQL, while those of a committed transaction do."""
    aborted = [ev.metric("tx", "cpu", float(i)) for i in range(10)]
    committed = [ev.metric("tx", "cpu", float(i)) for i in range(5)]
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka.bootstrap_servers,
        transactional_id=f"tx-{uuid.uuid4().hex[:8]}",
        enable_idempotence=True,
    )
    async with running_service(settings, [Stream.METRICS]):
        await producer.start()
        try:
            await producer.begin_transaction()
            for event in aborted:
                await producer.send(settings.topics.metrics, ev.to_bytes(event), key=b"tx")
            await producer.flush()
            await producer.abort_transaction()
            async with producer.transaction():
                for event in committed:
                    await producer.send(settings.topics.metrics, ev.to_bytes(event), key=b"tx")
        finally:
            await producer.stop()

        async def applied() -> int:
            return int(await clean_db.fetchval("SELECT count(*) FROM system_metrics") == 5)

        await wait_until(applied, within=60, what="the committed events")
    ids = {str(r["event_id"]) for r in await clean_db.fetch("SELECT event_id FROM system_metrics")}
    assert ids == {e["id"] for e in committed}
