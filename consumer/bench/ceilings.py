"""The ceilings of the machine for the same events: decode-only and write-only (COPY).

Decode-only is CPU time of the consumer's decoder (``schemas.struct_codec.StructDecoder``:
msgspec first, pydantic for what msgspec does not vouch for) with the pipeline's event
types over the very bytes that were published. Write-only is PostgreSQL ``COPY`` of one
row per event into the real table with its indexes, in batches of the consumer's batch
size, each batch its own transaction: the database's own best for that volume of rows. Rows whose
key would repeat (feedback pairs, job ids) are keyed by their event instead, so every
event lands as one row.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import TypeAdapter

from consumer.bench.results import Rate
from consumer.coordinates import Record, RecordId
from consumer.outcomes import Decoded
from consumer.writers.jobs import JobRow, fold_job
from consumer.writers.staging import STAGING_TABLES
from schemas.codec import decode
from schemas.registry import StreamTypes
from schemas.struct_codec import struct_decoder
from schemas.topics import Stream

TABLES = {stream: (staged.target.name, staged.columns) for stream, staged in STAGING_TABLES.items()}
"""The table the write-only ceiling copies each pipeline's rows into, and the columns (those
its writer stages)."""


def decode_only(values: Sequence[bytes], accepts: StreamTypes, max_bytes: int) -> Rate:
    """Decode every value in this process; the rate is per CPU second."""
    decode_one = struct_decoder(accepts).decode
    cpu = time.process_time()
    for value in values:
        decode_one(value, max_bytes=max_bytes)
    spent = time.process_time() - cpu
    return Rate(len(values), spent, spent)


def metric_row(event: Any) -> tuple[Any, ...]:
    data = event.data
    return (event.id, data.service_name, data.metric_type, data.value, data.unit, event.time)


def feedback_row(event: Any, ordinal: int) -> tuple[Any, ...]:
    data = event.data
    user = f"{data.user_id}#{ordinal}"
    return (data.insight_id, user, data.rating, data.comment, data.flags, event.time, event.id)


def _as_decoded(event: Any) -> Decoded:
    return Decoded(Record(RecordId("bench", 0, 0), None, None, (), 0), event)


class JobRows:
    """Each job event as the full job row it leads to, keyed by the event's id."""

    def __init__(self) -> None:
        self.jobs: dict[UUID, JobRow] = {}

    def row(self, event: Any) -> tuple[Any, ...] | None:
        fold = fold_job(self.jobs.get(event.data.job_id), [_as_decoded(event)])
        if fold.row is None or not fold.changed:
            return None
        self.jobs[event.data.job_id] = fold.row
        return (event.id, *fold.row.as_tuple()[1:])


def rows_for(
    stream: Stream, values: Sequence[bytes], adapter: TypeAdapter[Any]
) -> Iterator[tuple[Any, ...]]:
    """The write-only rows of ``values``, one per event that would change a row."""
    jobs = JobRows()
    for ordinal, value in enumerate(values):
        event = decode(value, adapter)
        if stream is Stream.METRICS:
            yield metric_row(event)
        elif stream is Stream.FEEDBACK:
            yield feedback_row(event, ordinal)
        else:
            row = jobs.row(event)
            if row is not None:
                yield row


async def write_only(
    pool: asyncpg.Pool, stream: Stream, rows: Sequence[tuple[Any, ...]], batch: int
) -> Rate:
    """COPY ``rows`` into the pipeline's table, ``batch`` rows per transaction."""
    table, columns = TABLES[stream]
    async with pool.acquire() as conn:
        started = time.perf_counter()
        for start in range(0, len(rows), batch):
            async with conn.transaction():
                await conn.copy_records_to_table(
                    table, records=rows[start : start + batch], columns=list(columns)
                )
        return Rate(len(rows), time.perf_counter() - started)
