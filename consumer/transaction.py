"""One batch, one transaction: write, dead-letter, move the position, commit.

This is the exactly-once core. The position compare-and-set comes first so that a
second member working on the same partitions waits on the row lock and then fails,
instead of applying the batch twice. Dead letters are published (and acknowledged)
before the commit that moves past them, and recorded in ``dead_letters`` by that same
commit; if publishing fails, nothing commits. A record dead-lettered before (its row
exists) is not published again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from operator import attrgetter

import asyncpg

from consumer.coordinates import TopicPartition
from consumer.deadletters import DeadLetterPublisher, record_dead_letters
from consumer.decoding import DecodedBatch
from consumer.errors import BreakerOpen, IngestError, classify
from consumer.outcomes import BatchReport, Outcome
from consumer.pipelines import Pipeline
from consumer.positions import advance_positions
from consumer.redelivery import (
    DeadLetterMarks,
    first_time,
    mark_applied_again,
    must_look_up,
    recorded_among,
)

FLUSH_WAIT = "SET LOCAL synchronous_commit = on"
"""For a batch that published dead letters: its commit waits for the WAL flush, so a lost
commit never makes its dead letters be published again. (Also for the position move that
records a retention loss, which a lost commit would have reported twice.)

The pipelines' sessions otherwise commit without waiting for the flush (``async_commit``,
set on the pool, so that it costs no round trip per batch). Such a batch has no effect
outside PostgreSQL: a PostgreSQL crash can lose its commit (the last fraction of a
second), and its positions are lost with its rows, so the records are consumed again
with the same effect."""

_EVENT_TIME = attrgetter("event.time")


async def wait_for_flush(conn: asyncpg.Connection, async_commit: bool) -> None:
    """Make the open transaction's commit wait for the WAL flush (``FLUSH_WAIT``); only
    needed when the pool's sessions commit asynchronously."""
    if async_commit:
        await conn.execute(FLUSH_WAIT)


BreakerCheck = Callable[[int, int], bool]
"""Given (records, dead letters) of a batch, would committing it trip the breaker?"""


async def apply_batch(
    pool: asyncpg.Pool,
    pipeline: Pipeline,
    work: DecodedBatch,
    expected: Mapping[TopicPartition, int | None],
    publisher: DeadLetterPublisher,
    *,
    breaker_trips: BreakerCheck | None = None,
    async_commit: bool = False,
    marks: DeadLetterMarks | None = None,
) -> BatchReport:
    """Apply a decoded batch exactly once or raise; nothing is committed when it raises.

    Records that already have a ``dead_letters`` row (a replay, a redelivery) are not
    dead-lettered again; those of them that now apply get their row marked ``redriven``
    (``consumer.redelivery``; ``marks`` says when the batch must look, None: always).
    ``async_commit``: the pool's sessions commit without waiting for the WAL flush, so a
    batch with dead letters must ask for it."""
    batch, decoded = work.batch, work.decoded
    records = len(batch)
    report = BatchReport(records=records, bytes=batch.size_bytes)
    report.queued_seconds = batch.since_produced()
    started = time.perf_counter()
    try:
        async with pool.acquire() as conn, conn.transaction():
            await advance_positions(conn, pipeline.group, expected, batch.next_positions())
            result = await pipeline.write(conn, decoded)
            failed = work.dead + result.rejected
            recorded = await recorded_among(conn, batch) if must_look_up(marks, batch) else set()
            dead = first_time(failed, recorded)
            if breaker_trips is not None and breaker_trips(records, len(dead)):
                raise BreakerOpen(f"dead letters would be {len(dead)} of {records} records")
            if dead:
                await wait_for_flush(conn, async_commit)
            failed_at = datetime.now(UTC)
            placed = await publisher.publish(pipeline.dead_letter_topic, dead, failed_at)
            await record_dead_letters(conn, dead, pipeline.group, failed_at, placed)
            report.redriven = await mark_applied_again(conn, recorded, failed)
    except IngestError:
        raise
    except Exception as exc:
        raise classify(exc) from exc
    if marks is not None:
        marks.raise_to(dead)
    report.failed_again = len(failed) - len(dead)
    report.write_seconds = time.perf_counter() - started
    report.outcomes.update(result.outcomes)
    report.outcomes[Outcome.DEAD_LETTERED] += len(failed)
    for d in dead:
        report.dead_by_stage[d.stage] += 1
    report.unknown_fields.update(work.unknown_fields)
    if decoded:
        oldest = min(map(_EVENT_TIME, decoded))
        report.oldest_event_age_s = (datetime.now(UTC) - oldest).total_seconds()
    return report
