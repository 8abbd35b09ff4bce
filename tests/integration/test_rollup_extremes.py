"""Rollups never refuse a valid sample: sums of the largest finite doubles are exact,
and the read side returns them as they are, never as infinity or null."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import orjson
import pytest

from consumer.readside import DatabaseService
from consumer.readside.engine import dispose_engines
from consumer.settings import Settings
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.drain import wait_drained
from tests.support.running import running_service

LARGEST = sys.float_info.max
HOUR = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
"""An hour within the raw-sample retention, so the samples are stored."""


@pytest.fixture
async def read(settings: Settings) -> AsyncIterator[DatabaseService]:
    async with DatabaseService(settings.database) as service:
        yield service
    await dispose_engines()


async def test_two_largest_doubles_in_one_hour_are_both_applied_and_summed_exactly(
    settings: Settings, publish: Publish, clean_db: asyncpg.Pool, read: DatabaseService
) -> None:
    """Two samples of the largest finite double (and two of its negative) in one hour:
    all four stored, none dead-lettered, each rollup's sum exact, and the read side's
    total exact with a finite average, whole bucket or partial."""
    at = [HOUR + timedelta(minutes=m) for m in (5, 50)]
    samples = [ev.metric("svc", "big", LARGEST, at=t) for t in at]
    samples += [ev.metric("svc", "small", -LARGEST, at=t) for t in at]
    async with running_service(settings, [Stream.METRICS]):
        await publish(settings.topics.metrics, samples)
        await wait_drained(clean_db, settings, [Stream.METRICS])
    assert await clean_db.fetchval("SELECT count(*) FROM system_metrics") == 4
    assert await clean_db.fetchval("SELECT count(*) FROM dead_letters") == 0
    exact = 2 * Decimal(repr(LARGEST))
    for table in ("system_metrics_hourly", "system_metrics_daily"):
        sums = dict(await clean_db.fetch(f"SELECT metric_type, value_sum FROM {table}"))
        assert sums == {"big": exact, "small": -exact}, table

    whole = await read.aggregate_metrics("svc", "big", HOUR, HOUR + timedelta(hours=1))
    partial = await read.aggregate_metrics("svc", "big", HOUR, HOUR + timedelta(minutes=55))
    for result in (whole, partial):
        (bucket,) = result.buckets
        assert (bucket.count, bucket.total, bucket.average) == (2, exact, LARGEST)
        assert (bucket.minimum, bucket.maximum) == (LARGEST, LARGEST)
        dumped = orjson.loads(result.model_dump_json())["buckets"][0]
        assert Decimal(dumped["total"]) == exact
    assert [b.partial for b in (whole.buckets[0], partial.buckets[0])] == [False, True]
