"""Dead letters once per record: replays and redeliveries publish none again, a record
that now applies is applied and its row marked, and every tool counts a dead letter
published twice once."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from consumer.settings import Settings
from schemas.topics import Stream, dlq_topic
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.drain import end_offsets, wait_drained
from tests.support.running import run_utxoiq, running_service
from tests.support.streams import mixed_stream
from tests.support.waiting import wait_until

DEAD_LETTER_ROW = 'SELECT * FROM dead_letters ORDER BY topic, partition, "offset"'


async def _dlq_ends(settings: Settings) -> dict[tuple[str, int], int]:
    topics = [dlq_topic(settings.topics.source(s)) for s in Stream]
    return await end_offsets(settings.kafka.bootstrap_servers, topics)


async def test_replay_of_everything_publishes_no_dead_letter_again_and_changes_no_row(
    settings: Settings, publish: Publish, clean_db: asyncpg.Pool
) -> None:
    """After a replay from the earliest offsets, no ``.dlq`` topic holds one record more
    and every ``dead_letters`` row (a discarded one too) is exactly as it was."""
    stream = mixed_stream(random.Random(16), jobs=20, feedback=200, metrics=400)
    poison: list[dict[str, Any] | bytes] = [b"not json", b"[]", b'{"specversion": "1.0"}']
    async with running_service(settings):
        await publish(
            settings.topics.jobs, [*stream.jobs, ev.job_progress(str(uuid.uuid4()), 1, 1)]
        )
        await publish(settings.topics.feedback, stream.feedback)
        await publish(
            settings.topics.metrics, [*stream.metrics[:100], *poison, *stream.metrics[100:]]
        )
        await wait_drained(clean_db, settings)
    await clean_db.execute(
        "UPDATE dead_letters SET status = 'discarded', status_reason = 'junk'"
        " WHERE record_value = $1",
        b"[]",
    )
    rows_before = [dict(r) for r in await clean_db.fetch(DEAD_LETTER_ROW)]
    assert len(rows_before) == len(poison) + 1
    ends_before = await _dlq_ends(settings)

    await clean_db.execute("DELETE FROM ingest_offsets")  # replay from the earliest offsets
    async with running_service(settings):
        await wait_drained(clean_db, settings)
    assert await _dlq_ends(settings) == ends_before
    assert [dict(r) for r in await clean_db.fetch(DEAD_LETTER_ROW)] == rows_before


async def test_a_record_that_now_applies_when_consumed_again_gets_its_row_marked_redriven(
    settings: Settings, publish: Publish, clean_db: asyncpg.Pool
) -> None:
    """Progress of a job not yet created is dead-lettered; once the job exists, a replay
    applies it, marks its row ``redriven`` and publishes nothing to the DLQ."""
    job = str(uuid.uuid4())
    async with running_service(settings, [Stream.JOBS]):
        await publish(settings.topics.jobs, [ev.job_progress(job, 40, 2)])
        await wait_drained(clean_db, settings, [Stream.JOBS])
        await publish(settings.topics.jobs, [ev.job_created(job, start=0, end=100)])
        await wait_drained(clean_db, settings, [Stream.JOBS])
    assert await clean_db.fetchval("SELECT status FROM dead_letters") == "pending"
    ends_before = await _dlq_ends(settings)

    await clean_db.execute("DELETE FROM ingest_offsets")
    async with running_service(settings, [Stream.JOBS]):
        await wait_drained(clean_db, settings, [Stream.JOBS])
    row = await clean_db.fetchrow("SELECT status, status_reason, attempts FROM dead_letters")
    assert row is not None
    assert (row["status"], row["attempts"]) == ("redriven", 1)
    assert "consumed again" in row["status_reason"]
    job_row = await clean_db.fetchrow(
        "SELECT status, current_block FROM backfill_jobs WHERE job_id = $1", uuid.UUID(job)
    )
    assert job_row is not None and tuple(job_row) == ("running", 40)
    assert await _dlq_ends(settings) == ends_before


async def test_null_header_values_stay_null_on_the_dead_letter(
    settings: Settings, producer: AIOKafkaProducer, clean_db: asyncpg.Pool
) -> None:
    """An original header whose value is null comes back null on the dead letter, and in
    its ``dead_letters`` row; an empty value stays empty."""
    headers = [("trace", None), ("empty", b""), ("kept", b"1")]
    async with running_service(settings, [Stream.METRICS]):
        await (await producer.send(settings.topics.metrics, b"not json", headers=headers))
        await wait_drained(clean_db, settings, [Stream.METRICS])
    stored = orjson.loads(await clean_db.fetchval("SELECT record_headers::text FROM dead_letters"))
    assert stored == [["trace", None], ["empty", ""], ["kept", "MQ=="]]
    code, out, err = await run_utxoiq(
        settings, "dlq", "export", "--from-topic", "--topic", settings.topics.metrics
    )
    assert code == 0, err
    (line,) = [orjson.loads(text) for text in out.splitlines()]
    assert line["headers"][:3] == [["trace", None], ["empty", ""], ["kept", "MQ=="]]


async def test_a_dead_letter_published_twice_is_counted_once_by_every_tool(
    make_settings: Callable[..., Settings], producer: AIOKafkaProducer, clean_db: asyncpg.Pool
) -> None:
    """A dead letter found twice in the DLQ topic (as a dropped connection leaves it) is
    one dead letter to ``dlq stats``, ``list``, ``export --from-topic`` and ``redrive``."""
    settings = make_settings()
    topic = settings.topics.jobs
    async with running_service(settings, [Stream.JOBS]):
        await (await producer.send(topic, b"{broken", key=b"k"))
        await wait_drained(clean_db, settings, [Stream.JOBS])
    copy = await _first_record(settings, dlq_topic(topic))
    await (
        await producer.send(dlq_topic(topic), copy.value, key=copy.key, headers=list(copy.headers))
    )

    code, out, err = await run_utxoiq(settings, "dlq", "stats", "--json", "--topic", topic)
    assert code == 0, err
    assert [row["count"] for row in orjson.loads(out)] == [1]
    code, out, err = await run_utxoiq(settings, "dlq", "list", "--json", "--topic", topic)
    assert code == 0, err
    assert len(orjson.loads(out)) == 1
    code, out, err = await run_utxoiq(settings, "dlq", "export", "--from-topic", "--topic", topic)
    assert code == 0, err
    assert len(out.splitlines()) == 1 and "exported 1" in err
    code, out, err = await run_utxoiq(settings, "dlq", "redrive", "--topic", topic)
    assert code == 0, err
    assert "selected: 1," in out, out


async def _first_record(settings: Settings, topic: str) -> Any:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=settings.kafka.bootstrap_servers, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:

        async def first() -> Any:
            batches = await consumer.getmany(timeout_ms=500)
            return next((m for ms in batches.values() for m in ms), None)

        return await wait_until(first, within=30, what=f"a record in {topic}")
    finally:
        await consumer.stop()
