"""The position compare-and-set in ``ingest_offsets``: the guard of exactly-once effects."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import asyncpg
import pytest
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.admin import NewTopic, RecordsToDelete

from consumer.coordinates import TopicPartition
from consumer.errors import PositionConflict
from consumer.ops.kafka import admin, committed_offsets
from consumer.positions import advance_positions, load_positions
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.drain import wait_drained
from tests.support.running import running_service
from tests.support.waiting import wait_until

GROUP = "g-positions"
TP = TopicPartition("t-positions", 0)


async def test_positions_move_only_from_the_position_expected(clean_db: asyncpg.Pool) -> None:
    async with clean_db.acquire() as conn:
        await advance_positions(conn, GROUP, {TP: None}, {TP: 100})
        await advance_positions(conn, GROUP, {TP: 100}, {TP: 250})
        with pytest.raises(PositionConflict):
            await advance_positions(conn, GROUP, {TP: 100}, {TP: 300})
        with pytest.raises(PositionConflict):
            await advance_positions(conn, GROUP, {TP: None}, {TP: 300})
        assert await load_positions(conn, GROUP, [TP]) == {TP: 250}


async def test_an_expected_position_without_a_row_is_a_conflict(clean_db: asyncpg.Pool) -> None:
    """A first commit lost in a PostgreSQL crash leaves no row; the next batch, which
    expects that commit's position, must not create the row and skip the records below."""
    async with clean_db.acquire() as conn:
        with pytest.raises(PositionConflict):
            await advance_positions(conn, GROUP, {TP: 200}, {TP: 400})
        assert await load_positions(conn, GROUP, [TP]) == {}


async def test_a_lost_commit_on_a_quiet_partition_is_applied_again(
    make_settings: Any, publish: Publish, clean_db: asyncpg.Pool
) -> None:
    """A PostgreSQL crash can lose commits made without waiting for the WAL flush: rows
    and positions together. With no new record to fail a compare-and-set, the idle
    consumer notices its positions are ahead of the stored ones and consumes again."""
    settings = make_settings()
    events = [ev.feedback(f"ins-{i}", f"usr-{i}", 1 + i % 5) for i in range(40)]
    group = settings.ingest.group_id(Stream.FEEDBACK)
    async with running_service(settings, [Stream.FEEDBACK]):
        await publish(settings.topics.feedback, events)
        await wait_drained(clean_db, settings, [Stream.FEEDBACK])
        async with clean_db.acquire() as conn, conn.transaction():
            await conn.execute("DELETE FROM insight_feedback")
            await conn.execute(
                "UPDATE ingest_offsets SET next_offset = 0 WHERE group_id = $1", group
            )

        async def applied_again() -> bool:
            return bool(await clean_db.fetchval("SELECT count(*) FROM insight_feedback") == 40)

        await wait_until(applied_again, within=30, what="the lost rows applied again")


async def test_records_removed_by_retention_before_they_were_consumed_raise_an_alarm(
    make_settings: Any, publish: Publish, clean_db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing lost silently: records the broker deleted below the group's stored position
    (retention while the group was away) cannot be applied, but the consumer says how many
    were lost, and where, when it takes the partition."""
    caplog.set_level(logging.ERROR, logger="utxoiq.consumer")
    settings = make_settings()
    topic, group = settings.topics.feedback, settings.ingest.group_id(Stream.FEEDBACK)
    async with admin(settings) as client:
        await client.create_topics([NewTopic(topic, 1, 1)])
    async with clean_db.acquire() as conn:
        await advance_positions(
            conn, group, {TopicPartition(topic, 0): None}, {TopicPartition(topic, 0): 0}
        )
    await publish(topic, [ev.feedback(f"ins-{i}", "usr", 1 + i % 5) for i in range(10)])
    async with admin(settings) as client:
        await client.delete_records({KafkaTopicPartition(topic, 0): RecordsToDelete(6)})
    async with running_service(settings, [Stream.FEEDBACK]):
        await wait_drained(clean_db, settings, [Stream.FEEDBACK])
    assert await clean_db.fetchval("SELECT count(*) FROM insight_feedback") == 4
    [alarm] = [r for r in caplog.records if "removed by Kafka retention" in r.getMessage()]
    assert (alarm.__dict__["partition"], alarm.__dict__["records"]) == (0, 6)
    assert (alarm.__dict__["stored_position"], alarm.__dict__["log_start"]) == (0, 6)


async def test_kafka_committed_offsets_follow_the_stored_positions(
    make_settings: Any, publish: Publish, clean_db: asyncpg.Pool
) -> None:
    """Lag tools read Kafka's committed offsets: the consumer mirrors its stored
    positions there after its batches commit, without any lane waiting for it."""
    settings = make_settings()
    group = settings.ingest.group_id(Stream.JOBS)
    events = [ev.job_created(str(uuid.uuid4()), start=0, end=10) for _ in range(30)]
    async with running_service(settings, [Stream.JOBS]):
        await publish(settings.topics.jobs, events)
        await wait_drained(clean_db, settings, [Stream.JOBS])
        async with clean_db.acquire() as conn:
            rows = await conn.fetch(
                "SELECT topic, partition, next_offset FROM ingest_offsets WHERE group_id = $1",
                group,
            )
        stored = {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}
        assert sum(stored.values()) == len(events)

        async def mirrored() -> bool:
            async with admin(settings) as client:
                return await committed_offsets(client, group) == stored

        await wait_until(mirrored, within=30, what="Kafka's committed offsets to match")


async def test_a_retention_loss_is_reported_once_even_across_restarts(
    make_settings: Any, publish: Publish, clean_db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """Reporting the loss moves the stored position to the log start, so a partition the
    broker emptied does not raise the same alarm at every restart or rebalance."""
    caplog.set_level(logging.ERROR, logger="utxoiq.consumer")
    settings = make_settings()
    topic, group = settings.topics.feedback, settings.ingest.group_id(Stream.FEEDBACK)
    tp = TopicPartition(topic, 0)
    async with admin(settings) as client:
        await client.create_topics([NewTopic(topic, 1, 1)])
    async with clean_db.acquire() as conn:
        await advance_positions(conn, group, {tp: None}, {tp: 0})
    await publish(topic, [ev.feedback(f"ins-{i}", "usr", 1) for i in range(5)])
    async with admin(settings) as client:
        await client.delete_records({KafkaTopicPartition(topic, 0): RecordsToDelete(5)})
    for _ in range(2):
        async with running_service(settings, [Stream.FEEDBACK]):
            pass
        async with clean_db.acquire() as conn:
            assert await load_positions(conn, group, [tp]) == {tp: 5}
    alarms = [r for r in caplog.records if "removed by Kafka retention" in r.getMessage()]
    assert len(alarms) == 1
