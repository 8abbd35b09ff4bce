"""Invalid arguments are refused with InvalidQuery before any statement is sent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from consumer.readside import DatabaseService, InvalidQuery
from consumer.readside.engine import create_engine
from consumer.settings import DatabaseSettings, ReadSideSettings

START = datetime(2026, 1, 1, tzinfo=UTC)
END = START + timedelta(days=1)
NAIVE = datetime(2026, 1, 1)

Call = Callable[[DatabaseService], Awaitable[Any]]


@pytest.fixture
async def offline() -> AsyncIterator[DatabaseService]:
    """A service whose database does not exist: any statement would fail to connect."""
    database = DatabaseSettings(url="postgresql://nobody@127.0.0.1:1/none")
    engine = create_engine(database, ReadSideSettings(connect_timeout_s=1))
    async with DatabaseService(engine=engine) as service:
        yield service
    await engine.dispose()


INVALID: dict[str, Call] = {
    "job id not a uuid": lambda db: db.get_backfill_job("12"),
    "limit zero": lambda db: db.list_backfill_jobs(limit=0),
    "limit above 1000": lambda db: db.list_backfill_jobs(limit=1001),
    "limit not an int": lambda db: db.list_backfill_jobs(limit=2.5),  # type: ignore[arg-type]
    "limit bool": lambda db: db.list_feedback(limit=True),
    "unknown status": lambda db: db.list_backfill_jobs(status="paused"),
    "empty job type": lambda db: db.list_backfill_jobs(job_type=""),
    "bad cursor": lambda db: db.list_backfill_jobs(cursor="%%%"),
    "empty insight": lambda db: db.get_feedback_stats(""),
    "naive since": lambda db: db.list_feedback(since=NAIVE),
    "until before since": lambda db: db.list_feedback(since=END, until=START),
    "metrics end before start": lambda db: db.get_metrics("s", "t", END, START),
    "metrics naive start": lambda db: db.get_metrics("s", "t", NAIVE, END),
    "metrics limit": lambda db: db.get_metrics("s", "t", START, END, limit=5000),
    "metrics empty service": lambda db: db.get_metrics("", "t", START, END),
    "aggregate unknown interval": lambda db: db.aggregate_metrics("s", "t", START, END, "week"),
    "aggregate end before start": lambda db: db.aggregate_metrics("s", "t", END, START, "day"),
    "aggregate naive end": lambda db: db.aggregate_metrics("s", "t", START, NAIVE, "day"),
    "aggregate too many buckets": lambda db: db.aggregate_metrics(
        "s", "t", START, START + timedelta(days=800), "hour"
    ),
}


@pytest.mark.parametrize("call", INVALID.values(), ids=INVALID.keys())
async def test_invalid_arguments_raise_before_any_query(
    offline: DatabaseService, call: Call
) -> None:
    with pytest.raises(InvalidQuery):
        await call(offline)


async def test_an_empty_range_is_answered_without_a_query(offline: DatabaseService) -> None:
    result = await offline.aggregate_metrics("s", "t", START, START, "day")
    assert result.buckets == []
