"""A database outage mid-stream: back off, keep the group, lose and dead-letter nothing."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg
import pytest

from schemas.topics import Stream
from tests.conftest import Publish
from tests.support.drain import wait_drained
from tests.support.model import assert_tables_match
from tests.support.running import running_service
from tests.support.services import Services, stack
from tests.support.streams import mixed_stream
from tests.support.waiting import wait_until

OUTAGE_SECONDS = 6


async def test_postgres_crash_mid_stream_loses_nothing_and_dead_letters_nothing(
    services: Services, make_settings: Any, publish: Publish, clean_db: asyncpg.Pool
) -> None:
    """PostgreSQL crashed (immediate stop: commits not yet flushed are lost) for several
    seconds mid-stream, then started: the consumer retries with its partitions paused,
    stays in its group, and ends with exactly the model's rows."""
    if not services.pg_managed:
        pytest.fail("this test stops PostgreSQL: run it against the local stack (make test)")
    settings = make_settings(batch_max_records=200, retry_max_backoff_ms=1000)
    stream = mixed_stream(random.Random(3), jobs=60, feedback=1500, metrics=3000)
    half = {s: len(getattr(stream, s.value)) // 2 for s in Stream}
    async with running_service(settings) as service:
        for s in Stream:
            await publish(settings.topics.source(s), getattr(stream, s.value)[: half[s]])
        await asyncio.to_thread(stack, "pg-stop", "--immediate")
        try:
            for s in Stream:
                await publish(settings.topics.source(s), getattr(stream, s.value)[half[s] :])

            async def retrying() -> bool:
                return all(_retries(service, s.pipeline) > 0 for s in service.statuses())

            await wait_until(retrying, within=30, what="every pipeline to retry")
            await asyncio.sleep(OUTAGE_SECONDS)  # the length of the outage, not a sync point
            assert all(s.started and s.assigned for s in service.statuses())
        finally:
            await asyncio.to_thread(stack, "pg-start")
            await clean_db.expire_connections()
        await wait_drained(clean_db, settings, within=120)
        assert all(s.positioned for s in service.statuses())
    await assert_tables_match(clean_db, stream.model())
    assert await clean_db.fetchval("SELECT count(*) FROM dead_letters") == 0


def _retries(service: Any, pipeline: str) -> float:
    total = 0.0
    for metric in service.telemetry.retries.collect():
        for sample in metric.samples:
            if sample.labels.get("pipeline") == pipeline and sample.name.endswith("_total"):
                total += sample.value
    return total


async def test_kafka_restart_mid_stream_loses_nothing_and_doubles_nothing(
    services: Services, make_settings: Any, publish: Publish, clean_db: asyncpg.Pool
) -> None:
    """The broker stopped mid-stream (poison included) and started again: the consumer
    reconnects by itself and ends with exactly the model's rows and dead letters."""
    if not services.pg_managed:
        pytest.fail("this test restarts Kafka: run it against the local stack (make test)")
    settings = make_settings(batch_max_records=200)
    stream = mixed_stream(random.Random(4), jobs=40, feedback=1000, metrics=2000)
    poison = [b"not json", b"[]"]
    half = {s: len(getattr(stream, s.value)) // 2 for s in Stream}
    async with running_service(settings):
        for s in Stream:
            await publish(settings.topics.source(s), getattr(stream, s.value)[: half[s]])
        await publish(settings.topics.metrics, poison)
        await asyncio.to_thread(stack, "kafka-stop")
        await asyncio.sleep(OUTAGE_SECONDS)  # the length of the outage, not a sync point
        await asyncio.to_thread(stack, "kafka-start")
        for s in Stream:
            await publish(settings.topics.source(s), getattr(stream, s.value)[half[s] :])
        await wait_drained(clean_db, settings, within=180)
    await assert_tables_match(clean_db, stream.model())
    rows = await clean_db.fetch("SELECT record_value FROM dead_letters")
    assert sorted(r["record_value"] for r in rows) == sorted(poison)
