"""The producer kit and ``utxoiq publish`` against the real broker and database."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson
import pytest

from consumer.coordinates import TopicPartition
from consumer.ops.dlq_topic import read_topic
from consumer.ops.kafka import kafka_tp, reader
from consumer.settings import Settings
from schemas import (
    BrokerUnreachable,
    EventPublisher,
    InvalidEvent,
    MetricSample,
    Stream,
    UnknownJobSequence,
)
from tests.support import events as ev
from tests.support.running import running_service, settings_env
from tests.support.services import REPO
from tests.support.waiting import wait_until


def publisher_for(settings: Settings) -> EventPublisher:
    return EventPublisher(
        settings.kafka.bootstrap_servers,
        topics={s: settings.topics.source(s) for s in Stream},
        source="/utxoiq/tests",
    )


async def test_helpers_publish_events_the_consumer_applies(
    settings: Settings, db: asyncpg.Pool
) -> None:
    """A job's lifecycle, a feedback and a batch of metrics sent through the helpers are
    keyed by entity, carry increasing sequences, and are applied by the consumer."""
    at = ev.at(12 * 3600)
    async with running_service(settings), publisher_for(settings) as publisher:
        job = await publisher.create_job("blocks", 100, 200, "tests")
        progress = [await publisher.progress_job(job, block) for block in (120, 150)]
        done = await publisher.complete_job(job)
        assert len({s.partition for s in [*progress, done]}) == 1
        await publisher.submit_feedback("ins-1", "user-1", 4, comment="ok", flags=["spam"])
        samples = [MetricSample(f"svc-{i}", "latency", i * 1.5, "ms", at) for i in range(5)]
        sent = await publisher.record_metrics(samples)
        one = await publisher.record_metric("svc-9", "latency", 7, "ms", at=at)
        assert [s.event_id.version for s in [*sent, one]] == [7] * 6

        async def applied() -> bool:
            metrics = await db.fetchval("SELECT count(*) FROM system_metrics")
            feedback = await db.fetchval("SELECT count(*) FROM insight_feedback")
            status = await db.fetchval("SELECT status FROM backfill_jobs WHERE job_id = $1", job)
            return (metrics, feedback, status) == (6, 1, "completed")

        await wait_until(applied, within=30, what="every published event applied")
    row = await db.fetchrow(
        "SELECT current_block, sequence FROM backfill_jobs WHERE job_id = $1", job
    )
    assert tuple(row or ()) == (150, 3)
    assert await db.fetchval("SELECT count(*) FROM dead_letters") == 0
    with pytest.raises(UnknownJobSequence, match="not tracked"):
        await publisher.progress_job(job, 160)


async def test_invalid_events_are_refused_before_anything_is_sent(settings: Settings) -> None:
    """Invalid events raise InvalidEvent naming the field, and none reaches the topic."""
    async with running_service(settings, [Stream.FEEDBACK]), publisher_for(settings) as publisher:
        with pytest.raises(InvalidEvent, match="rating"):
            await publisher.submit_feedback("ins-1", "user-1", 9)
        with pytest.raises(InvalidEvent, match="end_block"):
            await publisher.create_job("blocks", 10, 5, "tests")
        with pytest.raises(InvalidEvent, match="flags"):
            await publisher.submit_feedback("ins-1", "user-1", 3, flags=["spam", "spam"])
        topic = settings.topics.feedback
        async with reader(settings) as consumer:
            ends = await consumer.end_offsets(
                [kafka_tp(TopicPartition(topic, p)) for p in range(3)]
            )
        assert set(ends.values()) == {0}


async def test_an_unreachable_broker_is_a_clear_error() -> None:
    """Starting against an address where no broker listens raises BrokerUnreachable naming it."""
    publisher = EventPublisher("127.0.0.1:9", {"request_timeout_ms": 2000})
    with pytest.raises(BrokerUnreachable, match=r"cannot reach Kafka at 127\.0\.0\.1:9"):
        await publisher.start()


async def test_publish_command_sends_valid_lines_and_names_refused_ones(
    settings: Settings, db: asyncpg.Pool, tmp_path: Path
) -> None:
    """`utxoiq publish` sends every valid line as it is, refuses bad lines by number, and
    sums up what went to which topic with a non-zero exit when a line was refused."""
    start = datetime.now(UTC) - timedelta(minutes=1)
    job = str(uuid.uuid4())
    lines = [
        orjson.dumps({**ev.job_created(job, at=start), "traceparent": "00-abc-01"}),
        b"{broken",
        orjson.dumps(ev.metric("svc", "cpu", 0.5, at=start)),
        b"",
        orjson.dumps(ev.feedback("ins", "usr", 6, at=start)),
    ]
    source = tmp_path / "events.ndjson"
    source.write_bytes(b"\n".join(lines) + b"\n")
    async with running_service(settings):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "consumer.cli.main",
            "publish",
            str(source),
            env={**os.environ, **settings_env(settings)},
            cwd=REPO,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(process.communicate(), 60)
        assert process.returncode == 1
        summary = out.decode().strip()
        assert summary.startswith("sent: 2 (")
        assert (
            f"{settings.topics.jobs}: 1" in summary and f"{settings.topics.metrics}: 1" in summary
        )
        assert summary.endswith("refused: 2 (lines 2, 5)")
        assert "line 2:" in err.decode() and "line 5: data.rating" in err.decode()

        async def applied() -> bool:
            return await db.fetchval("SELECT count(*) FROM system_metrics") == 1 and bool(
                await db.fetchval("SELECT count(*) FROM backfill_jobs")
            )

        await wait_until(applied, within=30, what="the two valid events applied")
    (record,) = [r async for r in read_topic(settings, settings.topics.jobs)]
    assert record.value == lines[0] and record.key == job.encode()
