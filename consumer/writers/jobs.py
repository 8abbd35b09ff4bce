"""Backfill jobs: a per-job fold over the batch, against the stored row locked for update.

Rules (ARCHITECTURE.md): ``created`` makes a ``pending`` row; ``progress`` makes it
``running`` with ``current_block``; ``completed`` and ``failed`` are terminal. An event
applies only when its ``sequence`` is above the stored one. ``current_block`` follows the
progress event of highest sequence (tracked in ``progress_sequence``), so a progress
event that arrives after a newer terminal event still lands its block: any order of
the same events gives the row that sequence order gives. A progress, completion or
failure for a job never created is refused (``UnknownJob``), as is a ``current_block``
outside ``[start_block, end_block]``. The fold is pure; the database part loads the
current rows with ``FOR UPDATE`` and merges the final row of each job in one statement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter, lt
from typing import Any
from uuid import UUID

import asyncpg

from consumer.errors import (
    ApplyRejected,
    BlockOutOfRange,
    JobAlreadyExists,
    JobAlreadyFinished,
    UnknownJob,
)
from consumer.outcomes import DeadLetter, Decoded, Outcome, WriteResult
from consumer.vocabulary import JobStatus
from consumer.writers.isolate import write_isolating
from consumer.writers.staging import STAGING_TABLES, stage
from schemas.events import JobCompleted, JobCreated, JobFailed, JobProgress, event_type_of
from schemas.topics import Stream

CREATED, PROGRESS, COMPLETED, FAILED = (
    event_type_of(model) for model in (JobCreated, JobProgress, JobCompleted, JobFailed)
)
"""The four kinds of job event, told apart by ``type`` (an event is the pydantic model or
the ``Struct`` derived from it, see ``schemas.structs``)."""

TERMINAL = frozenset(status for status in JobStatus if status.terminal)

STAGED = STAGING_TABLES[Stream.JOBS]
COLUMNS = STAGED.columns

LOAD = f"""
SELECT {", ".join(COLUMNS)} FROM backfill_jobs
WHERE job_id = ANY($1::uuid[]) ORDER BY job_id FOR UPDATE
"""

MERGE = f"""
INSERT INTO backfill_jobs AS j ({", ".join(COLUMNS)})
SELECT {", ".join(COLUMNS)} FROM {STAGED.name} ORDER BY job_id
ON CONFLICT (job_id) DO UPDATE SET
  current_block = excluded.current_block,
  status = excluded.status,
  error_message = excluded.error_message,
  sequence = excluded.sequence,
  progress_sequence = excluded.progress_sequence,
  updated_at = excluded.updated_at,
  completed_at = excluded.completed_at
WHERE j.sequence < excluded.sequence OR j.progress_sequence < excluded.progress_sequence
"""


@dataclass(slots=True)
class JobRow:
    job_id: UUID
    job_type: str
    start_block: int
    end_block: int
    current_block: int | None
    status: str
    error_message: str | None
    created_by: str
    sequence: int
    progress_sequence: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None

    def as_tuple(self) -> tuple[Any, ...]:
        """The row's values in ``COLUMNS`` order (the fields' own order)."""
        return _VALUES(self)

    def copy(self) -> JobRow:
        return JobRow(*_VALUES(self))


_VALUES = attrgetter(*COLUMNS)
"""A ``JobRow``'s values as a tuple, read in C."""


@dataclass(slots=True)
class JobFold:
    """The result of folding one job's events over its stored row."""

    row: JobRow | None
    changed: bool = False
    applied: list[Decoded] = field(default_factory=list)
    superseded: list[Decoded] = field(default_factory=list)
    rejected: list[tuple[Decoded, ApplyRejected]] = field(default_factory=list)


JobKey = int
"""A job's id as its 128-bit integer (``UUID.int``): hashed and compared in C, where a
``UUID`` hashes and compares in Python. It orders as the ``UUID`` and PostgreSQL's
``uuid`` do (both compare the 16 bytes, most significant first)."""

_ORDER = attrgetter("event.data.sequence", "event.id.int")
"""The order a job's events apply in: sequence, then event id (as its integer)."""


def _created(event: Any) -> JobRow:
    data = event.data
    return JobRow(
        data.job_id,
        data.job_type,
        data.start_block,
        data.end_block,
        data.start_block,
        JobStatus.PENDING,
        None,
        data.created_by,
        data.sequence,
        data.sequence,
        event.time,
        event.time,
        None,
    )


def _step(fold: JobFold, event: Any) -> bool:
    """Apply one event to the fold's row in place: True if it changed, False if it is
    superseded; raises when the event is refused."""
    row, data, kind = fold.row, event.data, event.type
    if row is None:
        if kind != CREATED:
            raise UnknownJob(f"job {data.job_id} was never created ({kind})")
        fold.row = _created(event)
        return True
    progress = kind == PROGRESS
    if progress and not row.start_block <= data.current_block <= row.end_block:
        raise BlockOutOfRange(
            f"current_block {data.current_block} is outside "
            f"[{row.start_block}, {row.end_block}] of job {data.job_id}"
        )
    sequence = data.sequence
    if sequence <= row.sequence:
        if progress and sequence > row.progress_sequence:
            # older than the row but newer than its block: only the block moves
            row.current_block, row.progress_sequence = data.current_block, sequence
            return True
        return False
    if row.status in TERMINAL:
        raise JobAlreadyFinished(
            f"job {data.job_id} is already {row.status} at sequence {row.sequence}"
        )
    if kind == CREATED:
        raise JobAlreadyExists(f"job {data.job_id} already exists at sequence {row.sequence}")
    row.sequence, row.updated_at = sequence, event.time
    if progress:
        row.status, row.current_block, row.progress_sequence = (
            JobStatus.RUNNING,
            data.current_block,
            sequence,
        )
    elif kind == COMPLETED:
        row.status, row.completed_at = JobStatus.COMPLETED, event.time
    else:
        assert kind == FAILED
        row.status, row.error_message = JobStatus.FAILED, data.error_message
    return True


def fold_job(stored: JobRow | None, items: Sequence[Decoded]) -> JobFold:
    """Apply one job's events in sequence order, each at most once (pure: ``stored`` is
    copied, never changed)."""
    fold = JobFold(None if stored is None else stored.copy())
    for item in _in_order(items):
        try:
            changed = _step(fold, item.event)
        except ApplyRejected as error:
            fold.rejected.append((item, error))
            continue
        if changed:
            fold.changed = True
            fold.applied.append(item)
        else:
            fold.superseded.append(item)
    return fold


def _in_order(items: Sequence[Decoded]) -> Sequence[Decoded]:
    """``items`` in the order they apply in: as they are when their sequences already
    rise strictly (the usual case: a producer emits a job's events in order), sorted
    otherwise (equal sequences are then ordered by event id)."""
    sequences = [item.event.data.sequence for item in items]
    if all(map(lt, sequences, sequences[1:])):
        return items
    return sorted(items, key=_ORDER)


def group_by_job(items: Sequence[Decoded]) -> dict[JobKey, list[Decoded]]:
    """Each job's events, in arrival order, by ``JobKey``."""
    groups: dict[JobKey, list[Decoded]] = defaultdict(list)
    for item in items:
        groups[item.event.data.job_id.int].append(item)
    return groups


async def load_jobs(conn: asyncpg.Connection, job_ids: Sequence[UUID]) -> dict[JobKey, JobRow]:
    """The stored rows of ``job_ids``, locked for update, by ``JobKey``."""
    rows = await conn.fetch(LOAD, job_ids)
    return {row[0].int: JobRow(*row) for row in rows}


async def _merge(conn: asyncpg.Connection, folds: Sequence[JobFold], savepoint: str) -> int:
    rows = [f.row.as_tuple() for f in folds if f.row]
    await stage(conn, STAGED, rows, savepoint=savepoint)
    status: str = await conn.execute(MERGE)
    return int(status.rsplit(" ", 1)[-1])


async def write_jobs(conn: asyncpg.Connection, items: Sequence[Decoded]) -> WriteResult:
    """Fold every job's events over its locked row and merge the changed rows."""
    groups = group_by_job(items)
    keys = sorted(groups)
    stored = await load_jobs(conn, [groups[key][0].event.data.job_id for key in keys])
    folds = {key: fold_job(stored.get(key), groups[key]) for key in keys}
    result = WriteResult()
    for fold in folds.values():
        result.outcomes[Outcome.SUPERSEDED] += len(fold.superseded)
        result.rejected.extend(DeadLetter.rejected(item, error) for item, error in fold.rejected)
    changed = [fold for fold in folds.values() if fold.changed]
    _, refused = await write_isolating(conn, changed, _merge)
    refused_ids = {id(fold) for fold, _ in refused}
    for fold, error in refused:
        result.rejected.extend(DeadLetter.rejected(item, error) for item in fold.applied)
    for key, fold in folds.items():
        if not fold.changed or id(fold) in refused_ids:
            continue
        is_new = key not in stored
        result.outcomes[Outcome.INSERTED] += 1 if is_new else 0
        result.outcomes[Outcome.UPDATED] += len(fold.applied) - (1 if is_new else 0)
    return result
