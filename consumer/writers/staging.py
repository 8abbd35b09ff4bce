"""Session-private staging tables: rows are COPYed in, then merged with one statement."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import asyncpg
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql.base import PGDialect

from consumer.db.tables import backfill_jobs, insight_feedback, system_metrics
from schemas.topics import Stream

_POSTGRESQL = PGDialect()  # type: ignore[no-untyped-call]  # SQLAlchemy leaves it untyped

PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
MICROS = "bigint"
"""How the metrics and feedback writers stage an event time: ``(time - PG_EPOCH) //
MICROSECOND``, the microseconds since PostgreSQL's own epoch. asyncpg's ``COPY`` encodes
a ``datetime`` in about 0.85 us and a ``bigint`` in about 0.05 us; the subtraction costs
about 0.26 us, and the merge turns the number back into the time (``from_micros``)."""


def from_micros(column: str) -> str:
    """SQL: the ``timestamptz`` that a staged ``MICROS`` column stands for. Exact over the
    years 1 to 9999 and in any session time zone: whole seconds and the microseconds
    left are multiplied into intervals apart, so each product is exact in the double
    precision ``interval * number`` uses, and intervals of seconds know no calendar."""
    return (
        f"(timestamptz '2000-01-01 00:00:00+00' + ({column} / 1000000) * interval '1 second'"
        f" + ({column} % 1000000) * interval '1 microsecond')"
    )


@dataclass(frozen=True, slots=True)
class StagingTable:
    """A session temporary table holding some columns of a real table, as COPY fills
    it; each column has the real table's type unless ``staged_as`` gives another."""

    target: Table
    columns: tuple[str, ...]
    staged_as: Mapping[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"stage_{self.target.name}"

    def column_definitions(self) -> str:
        """The ``CREATE TABLE`` column list, types read off the SQLAlchemy table."""
        return ", ".join(f"{column} {self.type_of(column)}" for column in self.columns)

    def type_of(self, column: str) -> str:
        """The column's staged SQL type."""
        staged = self.staged_as.get(column)
        return staged or self.target.c[column].type.compile(_POSTGRESQL)


STAGING_TABLES: dict[Stream, StagingTable] = {
    Stream.JOBS: StagingTable(backfill_jobs, tuple(column.name for column in backfill_jobs.c)),
    Stream.FEEDBACK: StagingTable(
        insight_feedback,
        ("insight_id", "user_id", "rating", "comment", "flags", "submitted_at", "event_id"),
        # flags comma-joined: see consumer.writers.feedback.to_row
        staged_as={"flags": "text", "submitted_at": MICROS},
    ),
    Stream.METRICS: StagingTable(
        system_metrics,
        ("event_id", "service_name", "metric_type", "value", "unit", "recorded_at"),
        staged_as={"recorded_at": MICROS},
    ),
}
"""The staging table of each pipeline: the columns its writer stages, in COPY order."""


async def create_staging_tables(
    conn: asyncpg.Connection, streams: Iterable[Stream] = tuple(Stream)
) -> None:
    """Create the staging tables of ``streams`` (all by default) for the session: a
    pool's ``init`` hook, as temporary tables live as long as their session."""
    for stream in streams:
        table = STAGING_TABLES[stream]
        await conn.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {table.name} ({table.column_definitions()})"
            " ON COMMIT DELETE ROWS"
        )


def staging_tables_of(
    streams: Iterable[Stream],
) -> Callable[[asyncpg.Connection], Awaitable[None]]:
    """The ``init`` hook of a pool that writes only ``streams``: their staging tables only.

    Every commit of a transaction that touched a temporary table empties every ``ON
    COMMIT DELETE ROWS`` table of the session, used or not (about 0.3 ms each on the
    benchmark's machine, beside about 10 ms for a whole 800-row batch), so a session
    holds no more of them than its pipelines write.
    """
    return partial(create_staging_tables, streams=tuple(streams))


async def stage(
    conn: asyncpg.Connection,
    table: StagingTable,
    rows: Sequence[tuple[Any, ...]],
    *,
    savepoint: str,
) -> None:
    """Set ``savepoint`` and empty the staging table in one round trip, then COPY
    ``rows`` into it (binary protocol).

    The table is nearly always empty already (``ON COMMIT DELETE ROWS``, and a failed
    attempt's rows go with its savepoint); it holds rows only when a writer stages twice
    in one transaction. ``DELETE`` costs nothing on an empty table, where ``TRUNCATE``
    would give it a new file every batch (about a millisecond each).
    """
    await conn.execute(f"SAVEPOINT {savepoint}; DELETE FROM {table.name}")
    await conn.copy_records_to_table(table.name, records=rows, columns=list(table.columns))
