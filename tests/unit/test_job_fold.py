"""The jobs fold: sequence wins, terminal states stay, unknown jobs and bad blocks are refused."""

from __future__ import annotations

import random
import uuid
from dataclasses import fields

from consumer.errors import BlockOutOfRange, JobAlreadyFinished, UnknownJob
from consumer.writers.jobs import COLUMNS, JobRow, fold_job, group_by_job
from tests.support import events as ev
from tests.unit.helpers import decoded

JOB = str(uuid.uuid4())


def test_created_then_progress_makes_a_running_row() -> None:
    fold = fold_job(
        None, decoded([ev.job_created(JOB, start=0, end=100), ev.job_progress(JOB, 40, 1)])
    )
    assert fold.row is not None
    assert (fold.row.status, fold.row.current_block, fold.row.sequence) == ("running", 40, 1)
    assert len(fold.applied) == 2


def test_created_alone_is_pending_at_its_start_block() -> None:
    fold = fold_job(None, decoded([ev.job_created(JOB, start=7, end=9)]))
    assert fold.row is not None
    assert (fold.row.status, fold.row.current_block) == ("pending", 7)


def test_events_apply_in_sequence_order_whatever_the_arrival_order() -> None:
    events = [
        ev.job_created(JOB),
        ev.job_progress(JOB, 10, 1),
        ev.job_progress(JOB, 20, 2),
        ev.job_completed(JOB, 3),
    ]
    expected = fold_job(None, decoded(events)).row
    shuffled = events * 2
    random.Random(7).shuffle(shuffled)
    fold = fold_job(None, decoded(shuffled))
    assert fold.row == expected
    assert expected is not None and expected.status == "completed"
    assert len(fold.superseded) == 4


def test_lower_sequence_than_stored_is_superseded() -> None:
    first = fold_job(None, decoded([ev.job_created(JOB), ev.job_progress(JOB, 50, 5)]))
    later = fold_job(first.row, decoded([ev.job_progress(JOB, 10, 2)]))
    assert later.row == first.row and not later.changed
    assert len(later.superseded) == 1


def test_progress_for_an_unknown_job_is_refused() -> None:
    fold = fold_job(None, decoded([ev.job_progress(JOB, 1, 1)]))
    assert fold.row is None
    assert isinstance(fold.rejected[0][1], UnknownJob)


def test_block_outside_the_range_is_refused_even_when_stale() -> None:
    base = fold_job(
        None, decoded([ev.job_created(JOB, start=0, end=10), ev.job_progress(JOB, 5, 3)])
    ).row
    for sequence in (1, 9):
        fold = fold_job(base, decoded([ev.job_progress(JOB, 11, sequence)]))
        assert isinstance(fold.rejected[0][1], BlockOutOfRange)


def test_terminal_job_refuses_newer_events() -> None:
    done = fold_job(None, decoded([ev.job_created(JOB), ev.job_failed(JOB, 1, "x")])).row
    assert done is not None and done.status == "failed" and done.error_message == "x"
    fold = fold_job(done, decoded([ev.job_progress(JOB, 5, 2)]))
    assert isinstance(fold.rejected[0][1], JobAlreadyFinished)


def test_completion_records_its_time() -> None:
    fold = fold_job(
        None, decoded([ev.job_created(JOB, at=ev.at(0)), ev.job_completed(JOB, 1, at=ev.at(60))])
    )
    assert fold.row is not None
    assert (fold.row.created_at, fold.row.completed_at) == (ev.at(0), ev.at(60))


def test_jobs_are_grouped_and_ordered_as_their_uuids_are() -> None:
    """Rows are merged in ``job_id`` order (no deadlock between consumers): the integer
    keys sort as the UUIDs themselves, and as PostgreSQL orders ``uuid``."""
    jobs = [str(uuid.uuid4()) for _ in range(50)]
    items = decoded([ev.job_created(job) for job in jobs] + [ev.job_progress(jobs[0], 1, 1)])
    groups = group_by_job(items)
    assert [groups[key][0].event.data.job_id for key in sorted(groups)] == sorted(
        uuid.UUID(job) for job in jobs
    )
    assert len(groups[uuid.UUID(jobs[0]).int]) == 2


def test_a_row_is_staged_in_the_column_order_of_the_table() -> None:
    assert tuple(f.name for f in fields(JobRow)) == COLUMNS
    row = fold_job(None, decoded([ev.job_created(JOB)])).row
    assert row is not None
    assert row.as_tuple() == tuple(getattr(row, column) for column in COLUMNS)
    assert row.copy() == row and row.copy() is not row
