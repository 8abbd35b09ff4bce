"""Start-up: a database that is still coming up is waited for, not a reason to exit."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from consumer.service import IngestService
from consumer.settings import DatabaseSettings, Settings
from schemas.topics import Stream
from tests.support.proxy import free_port, proxied
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
