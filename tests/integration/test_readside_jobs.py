"""The read side's job queries over jobs the engine wrote from published events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import asyncpg
import pytest

from consumer.readside import DatabaseService, InvalidQuery, RecordNotFound
from consumer.readside.engine import dispose_engines
from consumer.readside.models import BackfillJob
from consumer.settings import Settings
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.running import running_service
from tests.support.waiting import wait_until

TIE = ev.at(3600)


@pytest.fixture
async def read(settings: Settings) -> AsyncIterator[DatabaseService]:
    async with DatabaseService(settings.database) as service:
        yield service
    await dispose_engines()


def _job_events() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """33 jobs, 23 of them created at the same instant; some running, completed, failed."""
    events: list[dict[str, Any]] = []
    statuses: dict[str, str] = {}
    times = [TIE] * 23 + [TIE - timedelta(seconds=1)] * 5 + [TIE + timedelta(seconds=1)] * 5
    for n, created in enumerate(times):
        job_id = str(uuid.uuid4())
        job_type = "blocks" if n % 2 else "transactions"
        events.append(ev.job_created(job_id, end=100, at=created, job_type=job_type))
        later = created + timedelta(minutes=1)
        status = ("pending", "running", "completed", "failed")[n % 4]
        if status != "pending":
            events.append(ev.job_progress(job_id, 10, 1, at=later))
        if status == "completed":
            events.append(ev.job_completed(job_id, 2, at=later))
        if status == "failed":
            events.append(ev.job_failed(job_id, 2, "disk full", at=later))
        statuses[job_id] = status
    return events, statuses


async def _ingest(
    settings: Settings, publish: Publish, db: asyncpg.Pool, events: list[dict[str, Any]]
) -> None:
    """Publish the events and run the engine until every job holds its last sequence."""
    last: dict[str, int] = {}
    for event in events:
        job_id = event["data"]["job_id"]
        last[job_id] = max(last.get(job_id, 0), event["data"]["sequence"])

    async def settled() -> bool:
        row = await db.fetchrow("SELECT count(*) AS n, sum(sequence) AS s FROM backfill_jobs")
        return bool(row["n"] == len(last) and row["s"] == sum(last.values()))

    async with running_service(settings, [Stream.JOBS]):
        await publish(settings.topics.jobs, events)
        await wait_until(settled, within=60, what="jobs written")


async def _all_pages(read: DatabaseService, limit: int, **filters: Any) -> list[BackfillJob]:
    seen: list[BackfillJob] = []
    cursor = None
    while True:
        page = await read.list_backfill_jobs(limit=limit, cursor=cursor, **filters)
        assert len(page.items) <= limit
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return seen


async def test_an_empty_table_gives_an_empty_page_and_no_job(read: DatabaseService) -> None:
    """With no jobs, listing gives an empty last page and fetching one raises RecordNotFound."""
    page = await read.list_backfill_jobs()
    assert page.items == []
    assert page.next_cursor is None
    with pytest.raises(RecordNotFound):
        await read.get_backfill_job(uuid.uuid4())


async def test_pages_walk_every_job_once_in_order_across_tied_creation_times(
    settings: Settings, publish: Publish, clean_db: asyncpg.Pool, read: DatabaseService
) -> None:
    """Pages of 7 over 33 jobs (23 created at one instant, so page ends fall inside the tie)
    yield every job once, newest first, ties ordered by job id."""
    events, statuses = _job_events()
    await _ingest(settings, publish, clean_db, events)

    listed = await _all_pages(read, limit=7)

    assert [str(job.job_id) for job in listed] == [
        str(job_id)
        for _, job_id in sorted(((job.created_at, job.job_id) for job in listed), reverse=True)
    ]
    assert {str(job.job_id): job.status for job in listed} == statuses
    assert sum(1 for job in listed if job.created_at == TIE) == 23


async def test_filters_and_single_job_reflect_the_engine_state(
    settings: Settings, publish: Publish, clean_db: asyncpg.Pool, read: DatabaseService
) -> None:
    """Status and type filters page over exactly the matching jobs; one job reads back whole."""
    events, statuses = _job_events()
    await _ingest(settings, publish, clean_db, events)

    failed = await _all_pages(read, limit=3, status="failed")
    assert {str(j.job_id) for j in failed} == {k for k, v in statuses.items() if v == "failed"}
    blocks = await _all_pages(read, limit=4, status="running", job_type="blocks")
    assert all(j.status == "running" and j.job_type == "blocks" for j in blocks)
    assert len(blocks) == sum(
        1 for e in events
        if e["type"].endswith(".created") and e["data"]["job_type"] == "blocks"
        and statuses[e["data"]["job_id"]] == "running"
    )  # fmt: skip

    job_id = failed[0].job_id
    job = await read.get_backfill_job(str(job_id))
    assert (job.status, job.error_message, job.current_block, job.sequence) == (
        "failed", "disk full", 10, 2,
    )  # fmt: skip


async def test_a_cursor_only_fits_the_query_that_issued_it(
    settings: Settings, publish: Publish, clean_db: asyncpg.Pool, read: DatabaseService
) -> None:
    """A cursor from an unfiltered listing is refused by a filtered one, and garbage too."""
    events, _ = _job_events()
    await _ingest(settings, publish, clean_db, events)
    page = await read.list_backfill_jobs(limit=5)
    assert page.next_cursor is not None
    with pytest.raises(InvalidQuery):
        await read.list_backfill_jobs(status="failed", cursor=page.next_cursor)
    with pytest.raises(InvalidQuery):
        await read.list_backfill_jobs(cursor="not-a-cursor")
