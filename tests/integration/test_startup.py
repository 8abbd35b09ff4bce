"""Start-up: what is merely not there yet (a database) is waited for; a taken port stops it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from datetime import datetime
from itertools import pairwise
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from consumer.errors import ConfigurationError
from consumer.service import IngestService
from consumer.settings import DatabaseSettings, IngestSettings, KafkaSettings, Settings
from schemas.topics import Stream
from tests.support.proxy import free_port, proxied
from tests.support.running import run_utxoiq, running_service
from tests.support.waiting import wait_until


async def test_a_consumer_started_before_its_database_waits_for_it(
    make_settings: Any, clean_db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """Started while PostgreSQL cannot be reached, the consumer logs that it waits, then
    comes up and takes its partitions as soon as the database answers."""
    caplog.set_level(logging.WARNING, logger="utxoiq.service")
    base = make_settings()
    async with proxied(base.database.url.get_secret_value()) as (proxy, url):
        await proxy.cut()
        proxy.port = free_port()
        settings = Settings(base.kafka, _through(url, proxy.port), base.topics, base.ingest)
        service = IngestService(settings, [Stream.METRICS])
        stop = asyncio.Event()
        task = asyncio.create_task(service.run(stop))
        try:

            async def waiting() -> bool:
                assert not task.done(), task.exception()
                return any("cannot be reached yet" in r.getMessage() for r in caplog.records)

            await wait_until(waiting, within=30, what="the consumer to wait for PostgreSQL")
            await proxy.open()

            async def positioned() -> bool:
                assert not task.done(), task.exception()
                statuses = service.statuses()
                return bool(statuses) and all(s.positions for s in statuses)

            await wait_until(positioned, within=60, what="partitions after the database came")
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=60)


def _through(url: str, port: int) -> DatabaseSettings:
    """The same database URL, addressed to ``port`` on loopback."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return DatabaseSettings(url=urlunsplit(parts._replace(netloc=f"{userinfo}127.0.0.1:{port}")))


async def test_an_operations_port_that_cannot_be_bound_stops_the_start(
    make_settings: Any, clean_db: asyncpg.Pool
) -> None:
    """A taken operations port, the default one included, stops the start with one line
    naming the address and the way out; with the port set to ``off`` the same consumer
    starts and consumes without the endpoint."""
    base = make_settings()
    fields = base.ingest.model_dump(exclude={"http_port", "http_host"})
    defaulted = IngestSettings(**fields)
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        with contextlib.suppress(OSError):  # held by another process already: as taken
            taken.bind((defaulted.http_host, int(defaulted.http_port)))
            taken.listen()
        settings = Settings(base.kafka, base.database, base.topics, defaulted)
        with pytest.raises(ConfigurationError) as refused:
            async with running_service(settings, [Stream.METRICS]):
                pass
        message = str(refused.value)
        assert f"cannot listen on {defaulted.http_host}:{defaulted.http_port}" in message
        assert "UTXOIQ_HTTP_PORT=off" in message and "\n" not in message
        off = IngestSettings(**fields, http_port="off")
        async with running_service(
            Settings(base.kafka, base.database, base.topics, off), [Stream.METRICS]
        ) as service:
            assert service.statuses()[0].positions


async def test_a_stop_while_waiting_for_the_database_ends_start_up_at_once(
    make_settings: Any, clean_db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGTERM during the start-up wait for PostgreSQL ends the service within seconds."""
    caplog.set_level(logging.WARNING, logger="utxoiq.service")
    base = make_settings(startup_timeout_s=600)
    settings = Settings(
        base.kafka, _through(base.database.dsn, free_port()), base.topics, base.ingest
    )
    service = IngestService(settings, [Stream.METRICS])
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))

    async def waiting() -> bool:
        assert not task.done(), task.exception()
        return any("cannot be reached yet" in r.getMessage() for r in caplog.records)

    await wait_until(waiting, within=30, what="the consumer to wait for PostgreSQL")
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert not service.runners


async def test_a_healthy_start_says_ready_once_with_what_it_consumes_and_where(
    make_settings: Any, clean_db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """One ``ready`` line per process once every pipeline holds its partitions: the
    pipelines, their partitions, the broker and database addresses without user or
    password, and the operations port; nothing of the service's own at warning or above."""
    caplog.set_level(logging.INFO)
    settings = make_settings(default_partitions=2, metrics_partitions=3)
    async with running_service(settings) as service:

        async def said_ready() -> list[logging.LogRecord]:
            return [r for r in caplog.records if r.getMessage() == "ready"]

        [ready] = await wait_until(said_ready, within=30, what="the ready line")
        port = service.ops_port
    assert ready.name == "utxoiq.service"
    assert ready.pipelines == ["jobs", "feedback", "metrics"]  # type: ignore[attr-defined]
    assert ready.partitions == {  # type: ignore[attr-defined]
        "jobs": [0, 1], "feedback": [0, 1], "metrics": [0, 1, 2]
    }  # fmt: skip
    assert ready.kafka == settings.kafka.bootstrap_servers  # type: ignore[attr-defined]
    parts = urlsplit(settings.database.url.get_secret_value())
    database = f"{parts.hostname}:{parts.port}{parts.path}"
    assert ready.database == database  # type: ignore[attr-defined]
    assert isinstance(port, int) and port > 0 and ready.ops_port == port  # type: ignore[attr-defined]
    assert [r.getMessage() for r in caplog.records if r.getMessage() == "ready"] == ["ready"]
    own = [
        r for r in caplog.records if r.name.startswith("utxoiq") and r.levelno >= logging.WARNING
    ]
    assert not own, [r.getMessage() for r in own]


async def test_the_client_s_repeated_errors_are_summarised_while_the_broker_is_down(
    make_settings: Any, clean_db: asyncpg.Pool
) -> None:
    """``utxoiq consume`` with no broker at its address: each of the Kafka client's error
    messages appears at most once per flood interval, the rest are counted on one
    ``utxoiq.client`` line, and the start ends with one line naming the address."""
    interval_s = 3.0
    base = make_settings(
        startup_timeout_s=9, log_flood_interval_s=interval_s, log_format="json", http_port="off"
    )
    port = free_port()
    settings = Settings(
        KafkaSettings(bootstrap_servers=f"127.0.0.1:{port}"),
        base.database,
        base.topics,
        base.ingest,
    )
    code, _, err = await run_utxoiq(settings, "consume", "-p", "metrics", within=90)
    assert code == 1
    *logged, last = err.strip().splitlines()
    assert last.startswith(f"utxoiq: error: cannot reach Kafka at 127.0.0.1:{port}")
    entries = [json.loads(line) for line in logged]
    raw: dict[str, list[datetime]] = {}
    for entry in entries:
        if entry["logger"].startswith("aiokafka"):
            raw.setdefault(entry["msg"], []).append(datetime.fromisoformat(entry["ts"]))
    assert raw, "the client logged nothing: the test no longer sees its errors"
    for message, times in raw.items():
        gaps = [(later - earlier).total_seconds() for earlier, later in pairwise(times)]
        assert all(gap >= interval_s - 0.5 for gap in gaps), (message, gaps)
    summaries = [e for e in entries if e["logger"] == "utxoiq.client"]
    assert summaries and all(e["repeated"] >= 1 for e in summaries), entries
    assert all("more like it in" in e["msg"] for e in summaries)
