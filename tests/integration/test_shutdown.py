"""SIGTERM while writing: exit 0, and the rows are exactly those the stored positions cover."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

from consumer.pipelines import build_pipelines
from consumer.settings import Settings
from consumer.topics_admin import ensure_topics
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support.events import metric
from tests.support.running import ConsumerProcess
from tests.support.waiting import wait_until

EVENTS = 40_000
IN_TRANSACTION = """
SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND application_name = 'utxoiq-ingest'
  AND xact_start IS NOT NULL AND state <> 'idle'
  AND (query LIKE '%INSERT INTO ingest_offsets%' OR query LIKE 'COPY "stage_system_metrics"%')
"""


async def ids_below(settings: Settings, positions: dict[int, int]) -> set[str]:
    """Event ids of the records below each partition's stored position."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka.bootstrap_servers, enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(settings.topics.metrics, p) for p in positions]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ids: set[str] = set()
        left = {tp for tp in partitions if positions[tp.partition] > 0}
        while left:
            for tp, messages in (await consumer.getmany(*left, timeout_ms=1000)).items():
                end = positions[tp.partition]
                ids.update(orjson.loads(m.value)["id"] for m in messages if m.offset < end)
                if messages[-1].offset + 1 >= end:
                    left.discard(tp)
        return ids
    finally:
        await consumer.stop()


async def test_sigterm_mid_batch_leaves_no_partial_batch(
    make_settings: Callable[..., Settings], clean_db: asyncpg.Pool, publish: Publish
) -> None:
    """SIGTERM while a batch transaction is open exits 0; rows are exactly the stored positions'."""
    settings = make_settings(batch_max_records=10_000, batch_max_age_ms=2_000)
    events = [metric(f"svc-{i % 12}", "latency", float(i)) for i in range(EVENTS)]
    await ensure_topics(settings, build_pipelines(settings, [Stream.METRICS]))
    await publish(settings.topics.metrics, events)
    process = ConsumerProcess(settings, "--pipeline", "metrics").start()
    try:

        async def writing() -> bool:
            return bool(await clean_db.fetchval(IN_TRANSACTION))

        await wait_until(writing, within=60, interval=0.01, what="a batch transaction open")
        code = await asyncio.to_thread(process.terminate, 60)
    finally:
        if process.alive:
            process.kill()
    assert code == 0
    rows = await clean_db.fetch(
        "SELECT partition, next_offset FROM ingest_offsets WHERE group_id = $1 AND topic = $2",
        settings.ingest.group_id(Stream.METRICS),
        settings.topics.metrics,
    )
    positions = {r["partition"]: r["next_offset"] for r in rows}
    stored = {
        str(r["event_id"]) for r in await clean_db.fetch("SELECT event_id FROM system_metrics")
    }
    assert 0 < len(stored) < EVENTS
    assert stored == await ids_below(settings, positions)
    rolled_up = await clean_db.fetchval("SELECT sum(sample_count) FROM system_metrics_hourly")
    assert rolled_up == len(stored)
