"""Fixtures: real services started once per session, state reset per test."""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from typing import Any

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from consumer.db.migrate import upgrade
from consumer.db.tables import metadata
from consumer.settings import (
    DatabaseSettings,
    IngestSettings,
    KafkaSettings,
    Settings,
    TopicSettings,
)
from consumer.topics_admin import start_or_close
from tests.support.events import key_of, to_bytes
from tests.support.services import Services, find_services
from tests.support.test_database import TestDatabaseUnavailable

pytest_plugins = ("tests.support.security", "tests.support.roles")

DELETE_TOPICS_AT_ONCE = 100
DELETE_TOPICS_WITHIN_S = 30

TABLES = tuple(table.name for table in metadata.sorted_tables)
"""Every service table, emptied before each integration test."""

Publish = Callable[[str, Sequence[dict[str, Any] | bytes]], Awaitable[None]]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/integration/" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def services() -> Iterator[Services]:
    """The servers, and the suite's own database (also for the commands tests run)."""
    try:
        found = find_services()
    except TestDatabaseUnavailable as exc:
        pytest.fail(str(exc), False)
    except Exception as exc:  # a missing service fails the run, it is never skipped
        pytest.fail(f"Kafka and PostgreSQL are required for integration tests: {exc}", False)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DATABASE_URL", found.database_url)
        yield found
    found.close()


@pytest.fixture(scope="session")
def database_settings(services: Services) -> DatabaseSettings:
    return DatabaseSettings(url=services.database_url)


@pytest.fixture(scope="session")
async def migrated(database_settings: DatabaseSettings) -> None:
    await asyncio.to_thread(upgrade, database_settings)


@pytest.fixture(scope="session")
async def db(database_settings: DatabaseSettings, migrated: None) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_settings.dsn, min_size=1, max_size=4)
    yield pool
    await pool.close()


@pytest.fixture
async def clean_db(db: asyncpg.Pool) -> asyncpg.Pool:
    """The database with every service table emptied for this test."""
    await db.execute(f"TRUNCATE {', '.join(TABLES)}")
    return db


@pytest.fixture(scope="session")
async def topic_prefixes(services: Services) -> AsyncIterator[list[str]]:
    """Prefixes of the topics the session's tests create; the topics are deleted when the
    session ends, so repeated runs do not pile thousands of topics onto a local broker."""
    prefixes: list[str] = []
    yield prefixes
    if prefixes:
        try:
            async with asyncio.timeout(DELETE_TOPICS_WITHIN_S):
                await _delete_topics(services.bootstrap_servers, tuple(prefixes))
        except Exception as exc:  # tidying up never fails the run
            print(f"\nthe test topics were left on the broker: {exc!r}", file=sys.stderr)


async def _delete_topics(bootstrap_servers: str, prefixes: tuple[str, ...]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await start_or_close(admin)
    try:
        created = [name for name in await admin.list_topics() if name.startswith(prefixes)]
        for start in range(0, len(created), DELETE_TOPICS_AT_ONCE):
            await admin.delete_topics(created[start : start + DELETE_TOPICS_AT_ONCE])
    finally:
        await admin.close()


@pytest.fixture
def make_settings(services: Services, topic_prefixes: list[str]) -> Callable[..., Settings]:
    """Settings with topic and group names of their own, so tests never share state."""

    def make(**ingest: Any) -> Settings:
        tag = uuid.uuid4().hex[:10]
        topic_prefixes.append(f"t-{tag}.")
        defaults: dict[str, Any] = {
            "group_prefix": f"test-{tag}",
            "batch_max_age_ms": 100,
            "retry_initial_backoff_ms": 100,
            "retry_max_backoff_ms": 1000,
            "shutdown_timeout_s": 20,
            "session_timeout_ms": 10_000,
            "log_format": "text",
            "http_port": 0,
        }
        return Settings(
            kafka=KafkaSettings(bootstrap_servers=services.bootstrap_servers),
            database=DatabaseSettings(url=services.database_url),
            topics=TopicSettings(
                jobs=f"t-{tag}.jobs", feedback=f"t-{tag}.feedback", metrics=f"t-{tag}.metrics"
            ),
            ingest=IngestSettings(**{**defaults, **ingest}),
        )

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings], clean_db: asyncpg.Pool) -> Settings:
    return make_settings()


@pytest.fixture(scope="session")
async def producer(services: Services) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(
        bootstrap_servers=services.bootstrap_servers, acks="all", enable_idempotence=True
    )
    await start_or_close(kafka)
    yield kafka
    await kafka.stop()


@pytest.fixture
def publish(producer: AIOKafkaProducer) -> Publish:
    """Send events (dicts, keyed by the contract) or raw bytes (keyless) and wait for acks."""

    async def send(topic: str, events: Sequence[dict[str, Any] | bytes]) -> None:
        futures = []
        for event in events:
            if isinstance(event, bytes):
                futures.append(await producer.send(topic, event, key=b"raw"))
            else:
                futures.append(await producer.send(topic, to_bytes(event), key=key_of(event)))
        await asyncio.gather(*futures)

    return send
