"""Dead-letter queries over the ``dead_letters`` table: list, stats, show, export, discard.

The table holds each dead letter's original key, value and headers, so every question
here is answered with SQL; nothing joins a consumer group or moves a position.
"""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from consumer.coordinates import Headers, Record, RecordId
from consumer.deadletters import decode_headers
from consumer.ops.dlq_selection import DeadLetterFilter, limit_clause, where_clause
from consumer.ops.errors import OperationRefused
from consumer.vocabulary import DeadLetterStatus

COLUMNS = (
    "topic",
    "partition",
    "offset",
    "consumer_group",
    "stage",
    "error_class",
    "error_message",
    "failed_at",
    "status",
    "attempts",
    "redrive_count",
    "record_key",
    "record_value",
    "record_headers",
    "record_timestamp",
    "event_id",
    "event_type",
    "dlq_partition",
    "dlq_offset",
    "status_reason",
    "updated_at",
)
SELECT = "SELECT " + ", ".join(f'"{c}"' for c in COLUMNS) + " FROM dead_letters"
LOG_ORDER = 'ORDER BY topic, partition, "offset"'
IDS = '(topic, partition, "offset") IN (SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[]))'


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _b64(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode()


@dataclass(frozen=True, slots=True)
class DeadLetterRow:
    """One row of ``dead_letters``: the original record and what became of it."""

    id: RecordId
    consumer_group: str
    stage: str
    error_class: str
    error_message: str
    failed_at: datetime
    status: str
    attempts: int
    redrive_count: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    record_timestamp: datetime | None
    event_id: str | None
    event_type: str | None
    dlq_partition: int | None
    dlq_offset: int | None
    status_reason: str | None
    updated_at: datetime

    @classmethod
    def from_db(cls, row: asyncpg.Record) -> DeadLetterRow:
        values = dict(row)
        return cls(
            RecordId(values.pop("topic"), values.pop("partition"), values.pop("offset")),
            key=values.pop("record_key"),
            value=values.pop("record_value"),
            headers=decode_headers(values.pop("record_headers")),
            **values,
        )

    def record(self) -> Record:
        """The original Kafka record, as the consumer saw it."""
        stamp = self.record_timestamp
        millis = -1 if stamp is None else int(stamp.timestamp() * 1000)
        return Record(self.id, self.key, self.value, self.headers, millis)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: key, value and header values in base64."""
        return {
            "topic": self.id.topic,
            "partition": self.id.partition,
            "offset": self.id.offset,
            "key": _b64(self.key),
            "value": _b64(self.value),
            "headers": [[name, _b64(value)] for name, value in self.headers],
            "record_timestamp": _iso(self.record_timestamp),
            "consumer_group": self.consumer_group,
            "stage": self.stage,
            "error_class": self.error_class,
            "error_message": self.error_message,
            "failed_at": _iso(self.failed_at),
            "status": self.status,
            "status_reason": self.status_reason,
            "attempts": self.attempts,
            "redrive_count": self.redrive_count,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "dlq_partition": self.dlq_partition,
            "dlq_offset": self.dlq_offset,
            "updated_at": _iso(self.updated_at),
        }


async def list_dead_letters(
    conn: asyncpg.Connection, selection: DeadLetterFilter
) -> list[DeadLetterRow]:
    """Matching dead letters, newest failure first."""
    where, args = where_clause(selection)
    order = 'ORDER BY failed_at DESC, topic, partition, "offset"'
    rows = await conn.fetch(f"{SELECT} {where} {order} {limit_clause(selection)}", *args)
    return [DeadLetterRow.from_db(row) for row in rows]


async def iter_dead_letters(
    conn: asyncpg.Connection, selection: DeadLetterFilter, chunk: int = 1000
) -> AsyncIterator[DeadLetterRow]:
    """Matching dead letters in log order, streamed (for export)."""
    where, args = where_clause(selection)
    query = f"{SELECT} {where} {LOG_ORDER} {limit_clause(selection)}"
    async with conn.transaction(readonly=True):
        async for row in conn.cursor(query, *args, prefetch=chunk):
            yield DeadLetterRow.from_db(row)


async def get_dead_letter(conn: asyncpg.Connection, record: RecordId) -> DeadLetterRow:
    """One dead letter by its original coordinates; ``OperationRefused`` when absent."""
    row = await conn.fetchrow(
        f'{SELECT} WHERE topic = $1 AND partition = $2 AND "offset" = $3', *record
    )
    if row is None:
        raise OperationRefused(f"no dead letter {record} in the dead_letters table")
    return DeadLetterRow.from_db(row)


async def selected_ids(conn: asyncpg.Connection, selection: DeadLetterFilter) -> list[RecordId]:
    """The coordinates of every matching dead letter, in log order (deduplicated)."""
    where, args = where_clause(selection)
    query = f'SELECT topic, partition, "offset" FROM dead_letters {where} {LOG_ORDER}'
    rows = await conn.fetch(f"{query} {limit_clause(selection)}", *args)
    return [RecordId(r["topic"], r["partition"], r["offset"]) for r in rows]


async def lock_pending(conn: asyncpg.Connection, ids: Sequence[RecordId]) -> list[DeadLetterRow]:
    """Lock the still-pending rows among ``ids`` for this transaction, in log order."""
    rows = await conn.fetch(
        f"{SELECT} WHERE {IDS} AND status = '{DeadLetterStatus.PENDING}' {LOG_ORDER} FOR UPDATE",
        *_columns(ids),
    )
    return [DeadLetterRow.from_db(row) for row in rows]


def _columns(ids: Sequence[RecordId]) -> tuple[list[str], list[int], list[int]]:
    return [i.topic for i in ids], [i.partition for i in ids], [i.offset for i in ids]


@dataclass(frozen=True, slots=True)
class StatsRow:
    topic: str
    stage: str
    error_class: str
    status: str
    count: int
    first_failed_at: datetime
    last_failed_at: datetime


async def dead_letter_stats(
    conn: asyncpg.Connection, selection: DeadLetterFilter
) -> list[StatsRow]:
    """Counts per source topic, stage, error class and status (over the filter's window)."""
    where, args = where_clause(selection)
    rows = await conn.fetch(
        "SELECT topic, stage, error_class, status, count(*) AS count,"
        " min(failed_at) AS first_failed_at, max(failed_at) AS last_failed_at"
        f" FROM dead_letters {where} GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
        *args,
    )
    return [StatsRow(**dict(row)) for row in rows]


@dataclass(frozen=True, slots=True)
class DiscardReport:
    selected: int
    discarded: int
    skipped: int
    """Selected records that were no longer pending."""
    executed: bool


async def discard(
    conn: asyncpg.Connection, selection: DeadLetterFilter, reason: str, *, execute: bool
) -> DiscardReport:
    """Mark the selected pending dead letters ``discarded`` with ``reason``."""
    if not reason.strip():
        raise OperationRefused("a discard needs a reason")
    ids = await selected_ids(conn, selection)
    async with conn.transaction():
        pending = await lock_pending(conn, ids)
        if execute and pending:
            await conn.execute(
                f"UPDATE dead_letters SET status = '{DeadLetterStatus.DISCARDED}',"
                f" status_reason = $4, updated_at = now() WHERE {IDS}",
                *_columns([row.id for row in pending]),
                reason,
            )
    return DiscardReport(len(ids), len(pending), len(ids) - len(pending), execute)


async def mark_redriven(
    conn: asyncpg.Connection, redriven: Sequence[tuple[RecordId, int, str]]
) -> None:
    """Mark each (id, redrive count, reason) ``redriven``."""
    if not redriven:
        return
    await conn.execute(
        f"""
        UPDATE dead_letters AS d SET status = '{DeadLetterStatus.REDRIVEN}',
          redrive_count = r.redrive_count, status_reason = r.reason, updated_at = now()
        FROM unnest($1::text[], $2::int[], $3::bigint[], $4::int[], $5::text[])
          AS r(topic, partition, "offset", redrive_count, reason)
        WHERE (d.topic, d.partition, d."offset") = (r.topic, r.partition, r."offset")
        """,
        *_columns([r[0] for r in redriven]),
        [r[1] for r in redriven],
        [r[2] for r in redriven],
    )


async def mark_still_failing(
    conn: asyncpg.Connection, failures: Sequence[tuple[RecordId, str, str, str]]
) -> None:
    """One more failed attempt for each (id, stage, error class, message); stays pending."""
    if not failures:
        return
    ids = [f[0] for f in failures]
    await conn.execute(
        """
        UPDATE dead_letters AS d SET attempts = d.attempts + 1, stage = f.stage,
          error_class = f.error_class, error_message = f.error_message,
          failed_at = $7, updated_at = now()
        FROM unnest($1::text[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[])
          AS f(topic, partition, "offset", stage, error_class, error_message)
        WHERE (d.topic, d.partition, d."offset") = (f.topic, f.partition, f."offset")
        """,
        *_columns(ids),
        [f[1] for f in failures],
        [f[2] for f in failures],
        [f[3] for f in failures],
        datetime.now(UTC),
    )
