"""Exactly-once effects across kill -9, rebalances and a dead-letter storm."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import asyncpg

from consumer.settings import Settings
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.drain import stored_positions, wait_drained
from tests.support.model import assert_tables_match
from tests.support.running import ConsumerProcess, running_service
from tests.support.streams import mixed_stream
from tests.support.waiting import wait_until


def _chunks(stream: Any, parts: int) -> list[dict[str, list[dict[str, Any]]]]:
    """Split each topic's events into ``parts`` consecutive slices (order kept per key)."""

    def cut(events: list[dict[str, Any]], i: int) -> list[dict[str, Any]]:
        size = -(-len(events) // parts)
        return events[i * size : (i + 1) * size]

    return [
        {
            "jobs": cut(stream.jobs, i),
            "feedback": cut(stream.feedback, i),
            "metrics": cut(stream.metrics, i),
        }
        for i in range(parts)
    ]


async def _publish_chunk(publish: Publish, settings: Settings, chunk: dict[str, Any]) -> None:
    for stream in Stream:
        await publish(settings.topics.source(stream), chunk[stream.value])


async def crash_repeatedly(
    settings: Settings,
    publish: Publish,
    db: asyncpg.Pool,
    log: Any,
    *,
    seed: int,
    kills: int,
    jobs: int,
    feedback: int,
    metrics: int,
) -> None:
    """Publish a mixed stream in ``kills`` slices, killing the consumer with SIGKILL at a
    random moment after each, then drain and compare the tables with the model."""
    rng = random.Random(seed)
    stream = mixed_stream(rng, jobs=jobs, feedback=feedback, metrics=metrics)
    process = ConsumerProcess(settings, log_path=log).start()
    try:
        for chunk in _chunks(stream, kills):
            await _publish_chunk(publish, settings, chunk)
            await asyncio.sleep(rng.uniform(0.5, 3.0))  # a random moment, not a sync point
            assert process.alive, log.read_text()[-2000:]
            process.kill()
            process = ConsumerProcess(settings, log_path=log).start()
        await wait_drained(db, settings, within=600)
    finally:
        process.kill()
    await assert_tables_match(db, stream.model())
    assert await db.fetchval("SELECT count(*) FROM dead_letters") == 0


async def test_kill_9_at_random_moments_loses_and_doubles_nothing(
    make_settings: Any, publish: Publish, clean_db: asyncpg.Pool, tmp_path: Any
) -> None:
    """A consumer killed with SIGKILL twelve times mid-stream, then restarted, leaves tables
    equal to the model and rollups exact: no event lost, none applied twice."""
    settings = make_settings(batch_max_records=300, batch_max_age_ms=50)
    await crash_repeatedly(
        settings,
        publish,
        clean_db,
        tmp_path / "consumer.log",
        seed=2026,
        kills=12,
        jobs=120,
        feedback=2500,
        metrics=6000,
    )


async def test_two_of_three_members_stopping_mid_stream_loses_and_doubles_nothing(
    make_settings: Any, publish: Publish, clean_db: asyncpg.Pool, tmp_path: Any
) -> None:
    """Three consumers share each group (six metric partitions); one is stopped with SIGTERM
    and one killed mid-stream; the survivor takes over and the tables equal the model."""
    settings = make_settings(batch_max_records=200, batch_max_age_ms=50, session_timeout_ms=6000)
    rng = random.Random(7)
    stream = mixed_stream(rng, jobs=90, feedback=2000, metrics=5000)
    chunks = _chunks(stream, 6)
    log = tmp_path / "consumers.log"
    members = [ConsumerProcess(settings, log_path=log).start() for _ in range(3)]
    try:
        for i, chunk in enumerate(chunks):
            await _publish_chunk(publish, settings, chunk)
            if i == 2:
                assert members[0].terminate(timeout=60) == 0
            if i == 3:
                members[1].kill()
            await asyncio.sleep(0.5)
        await wait_drained(clean_db, settings, within=240)
        assert members[2].alive
    finally:
        for member in members:
            if member.alive:
                member.kill()
    await assert_tables_match(clean_db, stream.model())
    assert await clean_db.fetchval("SELECT count(*) FROM dead_letters") == 0


async def test_a_dead_letter_storm_trips_the_breaker_and_holds_the_rest(
    make_settings: Any, publish: Publish, clean_db: asyncpg.Pool
) -> None:
    """When every record turns poison, the pipeline pauses with an alarm once the dead-letter
    share of the window crosses the threshold, instead of draining the storm into the DLQ."""
    settings = make_settings(
        breaker_window=100, breaker_threshold=0.5, batch_max_records=20, breaker_cooldown_s=3600
    )
    good = [ev.metric("svc", "cpu", float(i)) for i in range(100)]
    poison = [b"not json %d" % i for i in range(400)]
    async with running_service(settings, [Stream.METRICS]) as service:
        await publish(settings.topics.metrics, good)
        await wait_drained(clean_db, settings, [Stream.METRICS])
        await publish(settings.topics.metrics, poison)

        async def tripped() -> bool:
            return service.statuses()[0].breaker_open

        await wait_until(tripped, within=60, what="the breaker to open")
        dead = await clean_db.fetchval("SELECT count(*) FROM dead_letters")
        assert 0 < dead <= 50 + settings.ingest.batch_max_records
        positions = await stored_positions(clean_db, settings.ingest.group_id(Stream.METRICS))
        assert sum(positions.values()) < len(good) + len(poison)
        registry = service.telemetry.registry
        assert (
            registry.get_sample_value("utxoiq_dead_letter_breaker_open", {"pipeline": "metrics"})
            == 1
        )
    assert await clean_db.fetchval("SELECT count(*) FROM system_metrics") == len(good)
