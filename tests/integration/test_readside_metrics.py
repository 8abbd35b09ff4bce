"""The read side's metric queries over samples (and rollups) the engine wrote from events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from consumer.readside import DatabaseService
from consumer.readside.buckets import floor
from consumer.readside.engine import dispose_engines
from consumer.readside.models import BucketSource, Interval, MetricAggregate
from consumer.settings import Settings
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.running import running_service
from tests.support.waiting import wait_until

DAY0 = ev.BASE_TIME
SERVICE, TYPE = "api", "latency"


@pytest.fixture
async def read(settings: Settings) -> AsyncIterator[DatabaseService]:
    async with DatabaseService(settings.database) as service:
        yield service
    await dispose_engines()


def _sample_times() -> list[datetime]:
    """Every 37 minutes over five days, plus samples on midnights and the test's range edges."""
    times = [DAY0 + timedelta(minutes=37 * n) for n in range(5 * 24 * 60 // 37)]
    times += [DAY0 + timedelta(days=d) for d in range(1, 5)]
    times += [DAY0 + timedelta(days=1, hours=5, minutes=30), DAY0 + timedelta(days=4, hours=13)]
    return times


def _metric_events() -> list[dict[str, Any]]:
    events = []
    for n, moment in enumerate(_sample_times()):
        unit = "s" if n % 10 == 0 else "ms"
        events.append(ev.metric(SERVICE, TYPE, float(n % 97) - 20, unit=unit, at=moment))
        if n % 5 == 0:
            events.append(ev.metric(SERVICE, "errors", 1.0, unit="count", at=moment))
    return events


async def _ingest(settings: Settings, publish: Publish, db: asyncpg.Pool) -> list[dict[str, Any]]:
    events = _metric_events()

    async def written() -> bool:
        return bool(await db.fetchval("SELECT count(*) FROM system_metrics") == len(events))

    async with running_service(settings, [Stream.METRICS]):
        await publish(settings.topics.metrics, events)
        await wait_until(written, within=60, what="metric samples written")
    return events


def _expected(
    events: list[dict[str, Any]], start: datetime, end: datetime, interval: Interval
) -> dict[tuple[datetime, str], tuple[int, float, float, float]]:
    """Count, sum, min and max per (bucket, unit), straight from the published samples."""
    groups: dict[tuple[datetime, str], list[float]] = defaultdict(list)
    for event in events:
        moment, data = datetime.fromisoformat(event["time"]), event["data"]
        if (data["service_name"], data["metric_type"]) == (SERVICE, TYPE) and start <= moment < end:
            groups[(floor(moment, interval), data["unit"])].append(data["value"])
    return {key: (len(v), sum(v), min(v), max(v)) for key, v in sorted(groups.items())}


def _answered(
    result: MetricAggregate,
) -> dict[tuple[datetime, str], tuple[int, float, float, float]]:
    return {
        (b.bucket_start, b.unit): (b.count, float(b.total), b.minimum, b.maximum)
        for b in result.buckets
    }


async def test_an_unknown_series_has_no_samples_and_no_buckets(read: DatabaseService) -> None:
    """A series without samples gives no samples, not truncated, and no buckets."""
    samples = await read.get_metrics("ghost", "latency", DAY0, DAY0 + timedelta(days=1))
    assert (samples.samples, samples.truncated) == ([], False)
    result = await read.aggregate_metrics("ghost", "latency", DAY0, DAY0 + timedelta(days=3), "day")
    assert result.buckets == []


async def test_daily_aggregate_matches_the_raw_samples_including_partial_edges(
    settings: Settings, publish: Publish, clean_db: asyncpg.Pool, read: DatabaseService
) -> None:
    """Per day and unit, count/sum/min/max over [start, end) equal the raw samples' own figures."""
    events = await _ingest(settings, publish, clean_db)
    start = DAY0 + timedelta(days=1, hours=5, minutes=30)
    end = DAY0 + timedelta(days=4, hours=13)

    result = await read.aggregate_metrics(SERVICE, TYPE, start, end, Interval.DAY)

    assert _answered(result) == _expected(events, start, end, Interval.DAY)
    assert {b.bucket_start: b.partial for b in result.buckets} == {
        DAY0 + timedelta(days=d): d in (1, 4) for d in range(1, 5)
    }
    for bucket in result.buckets:
        assert bucket.average == pytest.approx(float(bucket.total) / bucket.count)


async def test_hourly_aggregate_matches_the_raw_samples_for_any_offset_and_alignment(
    settings: Settings, publish: Publish, clean_db: asyncpg.Pool, read: DatabaseService
) -> None:
    """Hourly buckets are UTC whatever the bounds' offset, exact at partial and aligned edges."""
    events = await _ingest(settings, publish, clean_db)
    india = timezone(timedelta(hours=5, minutes=30))
    ranges = [
        (
            (DAY0 + timedelta(days=1, hours=9)).replace(tzinfo=india),
            (DAY0 + timedelta(days=1, hours=20, minutes=45)).replace(tzinfo=india),
        ),
        (DAY0 + timedelta(hours=2), DAY0 + timedelta(hours=30)),
        (DAY0 + timedelta(hours=7, minutes=5), DAY0 + timedelta(hours=7, minutes=55)),
    ]
    for start, end in ranges:
        result = await read.aggregate_metrics(SERVICE, TYPE, start, end, "hour")
        assert _answered(result) == _expected(events, start, end, Interval.HOUR)
        assert all(b.bucket_start.minute == 0 for b in result.buckets)


async def test_raw_samples_are_half_open_oldest_first_and_flag_truncation(
    settings: Settings, publish: Publish, clean_db: asyncpg.Pool, read: DatabaseService
) -> None:
    """Samples at start are included, at end excluded, oldest first; a cut page says truncated."""
    await _ingest(settings, publish, clean_db)
    start, end = DAY0 + timedelta(days=1), DAY0 + timedelta(days=2)

    whole = await read.get_metrics(SERVICE, TYPE, start, end, limit=1000)
    times = [s.recorded_at for s in whole.samples]
    assert times[0] == start
    assert end not in times
    assert times == sorted(times)
    assert not whole.truncated

    cut = await read.get_metrics(SERVICE, TYPE, start, end, limit=5)
    assert cut.truncated
    assert cut.samples == whole.samples[:5]


async def test_a_range_reaching_past_the_raw_retention_is_answered_from_rollups(
    clean_db: asyncpg.Pool, read: DatabaseService
) -> None:
    """Days whose raw samples are gone are answered whole from the daily rollup, each
    bucket says where it came from, and the partial first day is withheld, not passed
    off as whole."""
    today = floor(datetime.now(UTC), Interval.DAY)
    old_days = [today - timedelta(days=d) for d in range(40, 35, -1)]
    for day in old_days:
        await clean_db.execute(
            "INSERT INTO system_metrics_daily VALUES ($1, $2, $3, 'ms', 4, 10, 1, 4)",
            SERVICE,
            TYPE,
            day,
        )
    recent = today - timedelta(days=1)
    await clean_db.execute(
        "INSERT INTO system_metrics (event_id, service_name, metric_type, value, unit,"
        " recorded_at) VALUES (gen_random_uuid(), $1, $2, 7, 'ms', $3)",
        SERVICE,
        TYPE,
        recent + timedelta(hours=1),
    )
    start, end = old_days[0] + timedelta(hours=6), recent + timedelta(hours=12)

    result = await read.aggregate_metrics(SERVICE, TYPE, start, end, Interval.DAY)

    assert result.withheld == [old_days[0]]
    assert result.raw_since > old_days[-1]
    by_start = {b.bucket_start: (b.source, b.partial, b.count) for b in result.buckets}
    assert by_start == {
        **dict.fromkeys(old_days[1:], (BucketSource.ROLLUP, False, 4)),
        recent: (BucketSource.RAW, True, 1),
    }
