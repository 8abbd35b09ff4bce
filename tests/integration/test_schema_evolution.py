"""The contract evolves: producers move ahead of consumers without losing an event."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from consumer.coordinates import RecordId
from consumer.ops.dlq_selection import DeadLetterFilter
from consumer.ops.redrive import redrive
from consumer.settings import Settings
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.running import running_service
from tests.support.versions import METRIC_V2, REGISTRY_WITH_V2, metric_v2
from tests.support.waiting import wait_until

V1 = "utxoiq.system.metric.recorded"
HOUR = datetime.now(UTC).replace(minute=15, second=0, microsecond=0) - timedelta(days=1)
"""A time within the raw-sample retention, so the samples are stored and rolled up."""


async def samples(db: asyncpg.Pool, service: str) -> list[tuple[str, float, str]]:
    rows = await db.fetch(
        "SELECT metric_type, value, unit FROM system_metrics WHERE service_name = $1 ORDER BY 2",
        service,
    )
    return [(r["metric_type"], r["value"], r["unit"]) for r in rows]


async def test_extra_fields_at_every_depth_are_applied_and_counted(
    settings: Settings, db: asyncpg.Pool, publish: Publish, caplog: pytest.LogCaptureFixture
) -> None:
    """Events carrying fields the consumer does not know (a top-level extension, a field in
    ``data``, one in an object nested in ``data``) are applied as if the fields were absent;
    the fields are counted per event type and each name is logged once, without its value."""
    caplog.set_level(logging.INFO, logger="consumer.unknown_fields")
    tag = uuid.uuid4().hex[:8]
    service, secret = f"svc-{tag}", f"value-{tag}"
    v1 = ev.metric(service, "cpu", 1.5)
    v1 = {**v1, f"ext{tag}": "x", "data": {**v1["data"], f"region_{tag}": secret}}
    v2 = metric_v2(service, "mem", 2.5)
    v2["data"]["metric"][f"scale_{tag}"] = secret
    async with running_service(settings, [Stream.METRICS], registry=REGISTRY_WITH_V2) as running:
        await publish(settings.topics.metrics, [v1, v1 | {"id": str(uuid.uuid4())}, v2])

        async def stored() -> list[tuple[str, float, str]]:
            rows = await samples(db, service)
            return rows if len(rows) == 3 else []

        assert await wait_until(stored, within=30, what="three samples") == [
            ("cpu", 1.5, "ms"),
            ("cpu", 1.5, "ms"),
            ("mem", 2.5, "ms"),
        ]
        counted = running.telemetry.registry.get_sample_value
        labels = {"pipeline": "metrics"}
        assert counted("utxoiq_unknown_fields_total", {**labels, "type": V1}) == 4
        assert counted("utxoiq_unknown_fields_total", {**labels, "type": METRIC_V2}) == 1
    logged = [r for r in caplog.records if r.name == "consumer.unknown_fields"]
    assert sorted((r.event_type, r.field) for r in logged if tag in r.field) == [  # type: ignore[attr-defined]
        (V1, f"data.region_{tag}"),
        (V1, f"ext{tag}"),
        (METRIC_V2, f"data.metric.scale_{tag}"),
    ]
    assert not any(secret in r.getMessage() or secret in str(r.__dict__) for r in logged)
    assert await db.fetchval("SELECT count(*) FROM dead_letters") == 0


async def test_two_versions_of_one_kind_land_in_the_same_table(
    settings: Settings, db: asyncpg.Pool, publish: Publish
) -> None:
    """A consumer whose registry lists both versions of the metric event stores each as a
    sample of the same table and adds both to the same hourly rollup."""
    service = f"svc-{uuid.uuid4().hex[:8]}"
    events = [
        ev.metric(service, "latency", 10.0, at=HOUR),
        metric_v2(service, "latency", 30.0, at=HOUR),
    ]
    async with running_service(settings, [Stream.METRICS], registry=REGISTRY_WITH_V2):
        await publish(settings.topics.metrics, events)

        async def rollup() -> asyncpg.Record | None:
            return await db.fetchrow(
                "SELECT sample_count, value_sum, value_min, value_max FROM system_metrics_hourly"
                " WHERE service_name = $1 AND sample_count = 2",
                service,
            )

        row = await wait_until(rollup, within=30, what="both samples in one rollup")
    assert row is not None
    assert tuple(row) == (2, 40.0, 10.0, 30.0)
    assert await samples(db, service) == [("latency", 10.0, "ms"), ("latency", 30.0, "ms")]
    assert await db.fetchval("SELECT count(*) FROM dead_letters") == 0


async def test_an_unknown_type_is_dead_lettered_then_redriven_once_the_consumer_learns_it(
    settings: Settings, db: asyncpg.Pool, publish: Publish
) -> None:
    """A consumer that does not know a new version dead-letters its events at ``validate``
    naming the type, and applies the good events around them; ``dlq redrive`` with a
    registry that lists the version applies the dead letter and marks it ``redriven``."""
    service = f"svc-{uuid.uuid4().hex[:8]}"
    topic = settings.topics.metrics
    async with running_service(settings, [Stream.METRICS]):
        await publish(topic, [metric_v2(service, "cpu", 7.0), ev.metric(service, "cpu", 1.0)])

        async def dead() -> asyncpg.Record | None:
            return await db.fetchrow(
                'SELECT topic, partition, "offset", stage, error_class, error_message, status'
                " FROM dead_letters WHERE topic = $1",
                topic,
            )

        row = await wait_until(dead, within=30, what="the v2 event dead-lettered")
        await wait_until(lambda: samples(db, service), within=30, what="the v1 sample")
    assert row is not None
    assert (row["stage"], row["error_class"], row["status"]) == (
        "validate",
        "UnknownEventType",
        "pending",
    )
    assert f"unknown event type '{METRIC_V2}'" in row["error_message"]
    one = DeadLetterFilter(ids=(RecordId(row["topic"], row["partition"], row["offset"]),))

    unchanged = await redrive(settings, one, execute=True)
    assert (unchanged.applied, unchanged.still_failing) == (0, 1)
    learnt = await redrive(settings, one, execute=True, registry=REGISTRY_WITH_V2)
    assert (learnt.applied, learnt.still_failing) == (1, 0)
    assert await samples(db, service) == [("cpu", 1.0, "ms"), ("cpu", 7.0, "ms")]
    after = await dead()
    assert after is not None and after["status"] == "redriven"
