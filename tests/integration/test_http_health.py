"""The operations endpoint: metrics that match the database, probes that follow reality."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import asyncpg
import orjson
from prometheus_client.parser import text_string_to_metric_families

from consumer.metrics.partitions import DAY, day_start, partition_name
from consumer.settings import DatabaseSettings, Settings
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support.events import metric
from tests.support.http import http_request as http_get
from tests.support.proxy import free_port, proxied
from tests.support.running import running_service
from tests.support.waiting import wait_until


def samples(text: str, name: str, **labels: str) -> list[float]:
    return [
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    ]


async def test_metrics_match_what_was_applied_and_dead_lettered(
    make_settings: Callable[..., Settings], clean_db: asyncpg.Pool, publish: Publish
) -> None:
    """During a run, /metrics counts exactly the rows applied and the records dead-lettered."""
    port = free_port()
    settings = make_settings(http_port=port, http_host="127.0.0.1")
    good = [metric("api", "latency", float(i)) for i in range(300)]
    bad_json = [b"{not json"] * 4
    invalid = [{**metric("api", "latency", 1.0), "data": {"service_name": "api"}}] * 3
    async with running_service(settings, [Stream.METRICS]):
        await publish(settings.topics.metrics, [*good, *bad_json, *invalid])

        async def scraped() -> str | None:
            status, body = await http_get(port, "/metrics")
            text = body.decode()
            labels = {"pipeline": "metrics", "topic": settings.topics.metrics}
            inserted = samples(text, "utxoiq_records_total", outcome="inserted", **labels)
            dead = samples(text, "utxoiq_records_total", outcome="dead_lettered", **labels)
            return text if status == 200 and inserted == [300.0] and dead == [7.0] else None

        text = await wait_until(scraped, within=60, what="counters for 300 applied, 7 dead")
        assert text is not None
        assert samples(text, "utxoiq_dead_letters_total", stage="decode") == [4.0]
        assert samples(text, "utxoiq_dead_letters_total", stage="validate") == [3.0]
        assert await clean_db.fetchval("SELECT count(*) FROM system_metrics") == 300
        assert await clean_db.fetchval("SELECT count(*) FROM dead_letters") == 7
        lags = samples(text, "utxoiq_consumer_lag_records", pipeline="metrics")
        assert lags
        assert sum(lags) == 0
        assert samples(text, "utxoiq_batch_records_count", pipeline="metrics")
        for path in ("/healthz", "/readyz"):
            status, body = await http_get(port, path)
            assert (status, orjson.loads(body)["status"]) == (200, "ok")
        assert (await http_get(port, "/nothing"))[0] == 404


async def test_readyz_follows_database_reachability(
    make_settings: Callable[..., Settings], clean_db: asyncpg.Pool
) -> None:
    """/readyz turns 503 while PostgreSQL is cut off and 200 again after; /healthz stays 200."""
    port = free_port()
    base = make_settings(http_port=port, http_host="127.0.0.1", ready_db_timeout_s=1.0)
    async with proxied(base.database.url.get_secret_value()) as (proxy, url):
        settings = Settings(base.kafka, DatabaseSettings(url=url), base.topics, base.ingest)
        async with running_service(settings, [Stream.JOBS]):

            async def ready_is(code: int) -> bool:
                return (await http_get(port, "/readyz"))[0] == code

            await wait_until(lambda: ready_is(200), within=30, what="ready")
            await proxy.cut()
            await wait_until(lambda: ready_is(503), within=30, what="unready while cut")
            _, body = await http_get(port, "/readyz")
            assert orjson.loads(body)["checks"]["database"].startswith("database")
            assert (await http_get(port, "/healthz"))[0] == 200
            await proxy.open()
            await wait_until(lambda: ready_is(200), within=30, what="ready again")


async def test_metrics_say_how_many_days_ahead_the_partitions_reach(
    make_settings: Callable[..., Settings], clean_db: asyncpg.Pool
) -> None:
    """The alert's signal: with today and the next seven days made, the gauge reads more
    than seven days; with today's partition gone, it reads zero."""
    port = free_port()
    settings = make_settings(http_port=port, http_host="127.0.0.1")
    async with running_service(settings, [Stream.METRICS]):
        _, body = await http_get(port, "/metrics")
        assert samples(body.decode(), "utxoiq_metrics_partitions_ahead_days")[0] > 7
        day = datetime.now(UTC).date()
        today, bounds = partition_name(day), (day_start(day), day_start(day) + DAY)
        await clean_db.execute(f"ALTER TABLE system_metrics DETACH PARTITION {today}")
        try:
            _, body = await http_get(port, "/metrics")
            assert samples(body.decode(), "utxoiq_metrics_partitions_ahead_days") == [0.0]
        finally:
            await clean_db.execute(
                f"ALTER TABLE system_metrics ATTACH PARTITION {today} FOR VALUES FROM "
                f"('{bounds[0].isoformat()}') TO ('{bounds[1].isoformat()}')"
            )


async def test_a_process_without_the_metrics_pipeline_exports_no_partitions_gauge(
    make_settings: Callable[..., Settings], clean_db: asyncpg.Pool
) -> None:
    """Only a process that runs the metrics pipeline says how far the partitions reach, so
    a jobs-only process's missing value cannot read as partitions run out."""
    port = free_port()
    settings = make_settings(http_port=port, http_host="127.0.0.1")
    async with running_service(settings, [Stream.JOBS]):
        _, body = await http_get(port, "/metrics")
        assert samples(body.decode(), "utxoiq_metrics_partitions_ahead_days") == []
