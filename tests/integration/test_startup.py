"""Start-up: what is merely not there yet (a database, a free port) does not stop a consumer."""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from consumer.errors import ConfigurationError
from consumer.service import IngestService
from consumer.settings import DatabaseSettings, IngestSettings, Settings
from schemas.topics import Stream
from tests.support.proxy import free_port, proxied
from tests.support.running import running_service
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
                return bool(service.runners) and all(r.positions for r in service.runners)

            await wait_until(positioned, within=60, what="partitions after the database came")
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=60)


def _through(url: str, port: int) -> DatabaseSettings:
    """The same database URL, addressed to ``port`` on loopback."""
    parts = urlsplit(url)
    userinfo = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return DatabaseSettings(url=urlunsplit(parts._replace(netloc=f"{userinfo}127.0.0.1:{port}")))


async def test_a_second_consumer_on_one_host_runs_without_the_default_port(
    make_settings: Any, clean_db: asyncpg.Pool, caplog: pytest.LogCaptureFixture
) -> None:
    """When the default operations port is already taken (another consumer on the same
    host), the consumer still consumes and says it runs without the endpoint; a port set
    explicitly and taken stops start-up in one line instead."""
    base = make_settings()
    fields = base.ingest.model_dump(exclude={"http_port", "http_host"})
    defaulted = IngestSettings(**fields)
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind((defaulted.http_host, defaulted.http_port))
        taken.listen()
        settings = Settings(base.kafka, base.database, base.topics, defaulted)
        async with running_service(settings, [Stream.METRICS]) as service:
            assert service.runners[0].positions is not None
        assert any("without the operations endpoint" in r.getMessage() for r in caplog.records)
        explicit = IngestSettings(**fields, http_port=defaulted.http_port)
        with pytest.raises(ConfigurationError, match="UTXOIQ_HTTP_PORT"):
            async with running_service(
                Settings(base.kafka, base.database, base.topics, explicit), [Stream.METRICS]
            ):
                pass


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
