"""Redrive: apply pending dead letters again, once whatever refused them is fixed.

By default the original records go through the consumer's own decode and write path
straight into PostgreSQL, one transaction per chunk, so the fix reaches this service
only: nothing is published, no consumer position moves, and the other subscribers of
the source topic see nothing. ``to_topic`` instead republishes the original key, value
and headers to the source topic with ``dlq.redrive.count`` increased, refusing records
already redriven ``max_redrives`` times so nothing loops.

Only ``pending`` dead letters are acted on; the rest of a selection is reported as
skipped. A dry run does the same work and rolls it back, so its counts are a forecast.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from itertools import groupby

import asyncpg
from aiokafka import AIOKafkaProducer

from consumer.coordinates import Headers, Record, RecordId
from consumer.db.pool import create_pool
from consumer.deadletters import HEADER_PREFIX, REDRIVE_COUNT, redrive_count
from consumer.decoding import decode_records
from consumer.errors import one_line
from consumer.ops.dlq import (
    DeadLetterRow,
    lock_pending,
    mark_redriven,
    mark_still_failing,
    selected_ids,
)
from consumer.ops.dlq_selection import DeadLetterFilter
from consumer.ops.errors import OperationRefused
from consumer.outcomes import DeadLetter, Outcome
from consumer.pipelines import Pipeline, pipeline_for_topic
from consumer.service import dead_letter_producer
from consumer.settings import Settings
from consumer.writers.staging import create_staging_tables
from schemas.registry import REGISTRY, Registry

DEFAULT_CHUNK = 500
DEFAULT_MAX_REDRIVES = 3
SHOWN_FAILURES = 20
ACK_TIMEOUT_S = 30.0


@dataclass(slots=True)
class RedriveReport:
    """What a redrive did (or, in a dry run, would do)."""

    executed: bool
    selected: int = 0
    applied: int = 0
    """Pending dead letters that now apply (or were republished, with ``to_topic``)."""
    superseded: int = 0
    """Of ``applied``: no-ops because newer state is already stored."""
    still_failing: int = 0
    skipped: int = 0
    """Selected dead letters that were not pending (already redriven or discarded)."""
    refused: int = 0
    """``to_topic`` only: already redriven the maximum number of times."""
    failures: list[tuple[RecordId, str, str]] = field(default_factory=list)
    """The first few records still failing: (id, error class, message)."""

    def failed(self, dead: Sequence[DeadLetter]) -> None:
        self.still_failing += len(dead)
        room = SHOWN_FAILURES - len(self.failures)
        self.failures.extend((d.record.id, d.error_class, d.message) for d in dead[:room])


def redrive_headers(headers: Headers, count: int) -> list[tuple[str, bytes | None]]:
    """The original headers, without any ``dlq.*``, plus ``dlq.redrive.count`` = count."""
    kept = [(name, value) for name, value in headers if not name.startswith(HEADER_PREFIX)]
    return [*kept, (REDRIVE_COUNT, str(count).encode())]


def times_redriven(row: DeadLetterRow) -> int:
    return max(row.redrive_count, redrive_count(row.headers))


def chunks(ids: Sequence[RecordId], size: int) -> list[Sequence[RecordId]]:
    return [ids[i : i + size] for i in range(0, len(ids), size)]


def _pipeline(settings: Settings, topic: str, registry: Registry) -> Pipeline:
    try:
        return pipeline_for_topic(settings, topic, registry)
    except KeyError:
        raise OperationRefused(
            f"no pipeline consumes {topic!r} with these settings (check UTXOIQ_TOPIC_*)"
        ) from None


async def apply_records(
    conn: asyncpg.Connection, pipeline: Pipeline, records: Sequence[Record], max_event_bytes: int
) -> tuple[list[Record], int, list[DeadLetter]]:
    """Decode and write like the consumer: (records now applied, superseded, failures)."""
    decoded, dead = decode_records(records, pipeline.accepts, max_event_bytes)
    result = await pipeline.write(conn, decoded)
    failures = dead + result.rejected
    failed = {d.record.id for d in failures}
    applied = [r for r in records if r.id not in failed]
    return applied, result.outcomes[Outcome.SUPERSEDED], failures


async def _in_transaction(
    conn: asyncpg.Connection, commit: bool, work: Callable[[], Awaitable[None]]
) -> None:
    """Run ``work`` in a transaction that commits only when ``commit`` is true."""
    transaction = conn.transaction()
    await transaction.start()
    try:
        await work()
    except BaseException:
        await transaction.rollback()
        raise
    await (transaction.commit() if commit else transaction.rollback())


@contextlib.asynccontextmanager
async def _connection(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    pool = await create_pool(settings.database, max_size=1, init=create_staging_tables)
    try:
        async with pool.acquire() as conn:
            yield conn
    finally:
        await pool.close()


async def redrive(
    settings: Settings,
    selection: DeadLetterFilter,
    *,
    execute: bool,
    chunk_size: int = DEFAULT_CHUNK,
    registry: Registry = REGISTRY,
) -> RedriveReport:
    """Apply the selected pending dead letters directly into PostgreSQL, reading them with
    the event types and versions ``registry`` lists."""
    async with _connection(settings) as conn:
        ids = await selected_ids(conn, selection)
        report = RedriveReport(execute, selected=len(ids))
        for chunk in chunks(ids, chunk_size):

            async def work(chunk: Sequence[RecordId] = chunk) -> None:
                await _apply_chunk(conn, settings, registry, chunk, report)

            await _in_transaction(conn, execute, work)
    return report


async def _apply_chunk(
    conn: asyncpg.Connection,
    settings: Settings,
    registry: Registry,
    ids: Sequence[RecordId],
    report: RedriveReport,
) -> None:
    rows = await lock_pending(conn, ids)
    report.skipped += len(ids) - len(rows)
    for topic, group in groupby(rows, key=lambda row: row.id.topic):
        by_id = {row.id: row for row in group}
        applied, superseded, failures = await apply_records(
            conn,
            _pipeline(settings, topic, registry),
            [row.record() for row in by_id.values()],
            settings.ingest.max_event_bytes,
        )
        reason = "applied to PostgreSQL by redrive"
        await mark_redriven(conn, [(r.id, by_id[r.id].redrive_count, reason) for r in applied])
        await mark_still_failing(
            conn,
            [
                (d.record.id, d.stage, d.error_class, one_line(d.message).replace("\x00", ""))
                for d in failures
            ],
        )
        report.applied += len(applied)
        report.superseded += superseded
        report.failed(failures)


async def redrive_to_topic(
    settings: Settings,
    selection: DeadLetterFilter,
    *,
    execute: bool,
    max_redrives: int = DEFAULT_MAX_REDRIVES,
    chunk_size: int = DEFAULT_CHUNK,
) -> RedriveReport:
    """Republish the selected pending dead letters to their source topics."""
    async with contextlib.AsyncExitStack() as stack:
        conn = await stack.enter_async_context(_connection(settings))
        producer = (
            await stack.enter_async_context(dead_letter_producer(settings)) if execute else None
        )
        ids = await selected_ids(conn, selection)
        report = RedriveReport(execute, selected=len(ids))
        for chunk in chunks(ids, chunk_size):

            async def work(chunk: Sequence[RecordId] = chunk) -> None:
                await _republish_chunk(conn, producer, chunk, max_redrives, report)

            await _in_transaction(conn, execute, work)
    return report


async def _republish_chunk(
    conn: asyncpg.Connection,
    producer: AIOKafkaProducer | None,
    ids: Sequence[RecordId],
    max_redrives: int,
    report: RedriveReport,
) -> None:
    rows = await lock_pending(conn, ids)
    report.skipped += len(ids) - len(rows)
    eligible = [row for row in rows if times_redriven(row) < max_redrives]
    report.refused += len(rows) - len(eligible)
    report.applied += len(eligible)
    if producer is None:
        return
    placed = await republish(producer, eligible)
    await mark_redriven(
        conn,
        [
            (row.id, times_redriven(row) + 1, f"republished to {row.id.topic}:{p}:{o}")
            for row, (p, o) in zip(eligible, placed, strict=True)
        ],
    )


async def republish(
    producer: AIOKafkaProducer, rows: Sequence[DeadLetterRow]
) -> list[tuple[int, int]]:
    """Send each original record back to its topic; wait for every acknowledgement."""
    futures = [
        await producer.send(
            row.id.topic,
            value=row.value,
            key=row.key,
            headers=redrive_headers(row.headers, times_redriven(row) + 1),
        )
        for row in rows
    ]
    acks = await asyncio.wait_for(asyncio.gather(*futures), ACK_TIMEOUT_S)
    return [(ack.partition, ack.offset) for ack in acks]
