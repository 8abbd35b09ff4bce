"""Replay against the real broker and database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from consumer.coordinates import TopicPartition
from consumer.ops.errors import OperationRefused
from consumer.ops.kafka import admin, committed_offsets, kafka_tp, partitions_of, reader
from consumer.ops.replay import ReplayTarget, TargetKind, execute_replay, plan_replay
from consumer.positions import load_positions
from consumer.settings import Settings
from schemas.topics import Stream
from tests.support import events as ev
from tests.support.running import run_utxoiq, running_service
from tests.support.waiting import wait_until

SNAPSHOT = {
    "system_metrics": "SELECT * FROM system_metrics ORDER BY event_id",
    "system_metrics_hourly": "SELECT * FROM system_metrics_hourly ORDER BY 1, 2, 3, 4",
    "system_metrics_daily": "SELECT * FROM system_metrics_daily ORDER BY 1, 2, 3, 4",
}


async def snapshot(db: asyncpg.Pool) -> dict[str, list[dict[str, Any]]]:
    return {name: [dict(r) for r in await db.fetch(query)] for name, query in SNAPSHOT.items()}


async def send_at(
    producer: AIOKafkaProducer, topic: str, events: list[dict[str, Any]], timestamp_ms: int
) -> None:
    futures = [
        await producer.send(topic, ev.to_bytes(e), key=ev.key_of(e), timestamp_ms=timestamp_ms)
        for e in events
    ]
    await asyncio.gather(*futures)


async def positions_at_end(settings: Settings, db: asyncpg.Pool) -> bool:
    topic = settings.topics.metrics
    tps = [TopicPartition(topic, p) for p in await partitions_of(settings, topic)]
    async with reader(settings) as consumer:
        ends = await consumer.end_offsets([kafka_tp(tp) for tp in tps])
    async with db.acquire() as conn:
        stored = await load_positions(conn, settings.ingest.group_id(Stream.METRICS), tps)
    return all(stored.get(tp, 0) == ends[kafka_tp(tp)] for tp in tps)


def metrics(prefix: str, count: int) -> list[dict[str, Any]]:
    return [ev.metric(f"svc-{i % 5}", f"{prefix}-latency", float(i)) for i in range(count)]


async def test_replay_to_datetime_reprocesses_exactly_the_later_records(
    settings: Settings, db: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    """A replay to time T, run with the service stopped, reprocesses exactly the records
    written after T (all superseded) and leaves every table unchanged."""
    topic, group = settings.topics.metrics, settings.ingest.group_id(Stream.METRICS)
    base = int(datetime.now(UTC).timestamp() * 1000) - 600_000
    at = datetime.fromtimestamp((base + 5_000) / 1000, UTC)
    early, late = metrics("early", 17), metrics("late", 11)
    async with running_service(settings, [Stream.METRICS]):
        await send_at(producer, topic, early, base)
        await send_at(producer, topic, late, base + 10_000)

        async def all_rows() -> bool:
            count: int = await db.fetchval("SELECT count(*) FROM system_metrics")
            return count == 28

        await wait_until(all_rows, within=30, what="28 metric rows")
        await wait_until(lambda: positions_at_end(settings, db), within=30, what="positions")
        live = await plan_replay(settings, Stream.METRICS, ReplayTarget(TargetKind.EARLIEST))
        assert live.members
        with pytest.raises(OperationRefused, match="live member"):
            await execute_replay(settings, live)
    before = await snapshot(db)

    plan = await plan_replay(settings, Stream.METRICS, ReplayTarget(TargetKind.DATETIME, at=at))
    assert plan.members == ()
    assert plan.to_reprocess == len(late)
    code, out, err = await run_utxoiq(
        settings, "replay", "--pipeline", "metrics", "--to-datetime", at.isoformat(), "--execute"
    )
    assert code == 0, err
    assert f"moved {len(plan.partitions)} partition(s)" in out
    async with db.acquire() as conn:
        stored = await load_positions(conn, group, plan.targets())
    assert stored == plan.targets()
    async with admin(settings) as client:
        assert await committed_offsets(client, group) == plan.targets()

    async with running_service(settings, [Stream.METRICS]) as service:
        sample = service.telemetry.registry.get_sample_value
        labels = {"pipeline": "metrics", "topic": topic}

        async def replayed() -> bool:
            done = sample("utxoiq_records_total", {**labels, "outcome": "superseded"})
            return done == len(late) and await positions_at_end(settings, db)

        await wait_until(replayed, within=30, what="the late records reprocessed")
        assert sample("utxoiq_records_total", {**labels, "outcome": "inserted"}) is None
    assert await snapshot(db) == before
