"""The suite never touches the data of ``make run``: its database, topics and positions.

A stand-in for the user's database (migrated, holding rows, stored positions and dead
letters already redriven or discarded) and for the user's topics and consumer groups is
set up on the real servers; then a second pytest session runs real integration tests
(which empty every service table before each test) with ``DATABASE_URL``,
``UTXOIQ_TOPIC_*`` and ``UTXOIQ_GROUP_PREFIX`` naming them, as ``make test`` does after
``make run``. Everything the user had must be there afterwards, byte for byte.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from consumer.db.migrate import current_revision, head_revision, upgrade
from consumer.db.tables import metadata
from consumer.settings import DatabaseSettings
from schemas.topics import Stream
from tests.support.drain import end_offsets
from tests.support.services import REPO, Services
from tests.support.test_database import (
    TestDatabaseUnavailable,
    create_if_missing,
    test_database_url,
)

INNER_TESTS = (
    "tests/integration/test_engine.py::test_poison_records_are_dead_lettered_and_good_ones_applied",
    "tests/integration/test_positions.py::test_positions_move_only_from_the_position_expected",
)
"""Tests that empty the tables, consume, store positions and dead-letter records."""

SEED = """
INSERT INTO backfill_jobs (job_id, job_type, start_block, end_block, current_block, status,
                           created_by, sequence, created_at, updated_at)
VALUES ('6f1c0e52-9d3c-4a7e-8f61-0c5b2a1d9e01', 'blocks', 0, 100, 40, 'running', 'demo', 3,
        now(), now());
INSERT INTO ingest_offsets (group_id, topic, partition, next_offset)
VALUES ('{group}-jobs', '{topic}.jobs', 0, 7), ('{group}-metrics', '{topic}.metrics', 1, 12);
INSERT INTO dead_letters (topic, partition, "offset", consumer_group, stage, error_class,
                          error_message, failed_at, status)
VALUES ('{topic}.jobs', 0, 2, '{group}-jobs', 'apply', 'UnknownJob', 'no such job',
        now(), 'redriven'),
       ('{topic}.jobs', 0, 5, '{group}-jobs', 'decode', 'MalformedJson', 'not JSON',
        now(), 'discarded');
"""


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@pytest.fixture
async def user_database(services: Services) -> AsyncIterator[str]:
    """A migrated database on the suite's server standing in for ``make run``'s."""
    name = f"utxoiq_user_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(services.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(services.database_url, name)
    try:
        await asyncio.to_thread(upgrade, DatabaseSettings(url=url))
        yield url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}_test" WITH (FORCE)')
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


async def _fingerprints(url: str) -> dict[str, tuple[int, str | None]]:
    """Per service table: its row count and a digest of every row's text."""
    conn = await asyncpg.connect(url)
    try:
        prints = {}
        for table in metadata.sorted_tables:
            count, digest = await conn.fetchrow(
                f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t::text)) "
                f"FROM {table.name} t"
            )
            prints[table.name] = (count, digest)
        return prints
    finally:
        await conn.close()


async def _seed_topics(bootstrap: str, topic: str, group: str) -> None:
    """Records in the user's source topics, and a committed offset of the user's group."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(f"{topic}.{s.value}", 1, 1) for s in Stream])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for stream in Stream:
            await producer.send_and_wait(f"{topic}.{stream.value}", b"{}", key=b"user")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=f"{group}-metrics", enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(f"{topic}.metrics", 0)])
        await consumer.commit({TopicPartition(f"{topic}.metrics", 0): 1})
    finally:
        await consumer.stop()


async def _committed(bootstrap: str, group: str, topic: str) -> int | None:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        committed: int | None = await consumer.committed(TopicPartition(topic, 0))
        return committed
    finally:
        await consumer.stop()


async def test_the_suite_leaves_the_user_database_topics_and_positions_as_they_were(
    services: Services, user_database: str, topic_prefixes: list[str]
) -> None:
    """Rows, stored positions, dead-letter statuses, topic contents and committed offsets of
    the database and topics ``make run`` uses are unchanged after tests ran beside them,
    on a ``<name>_test`` database of their own that the session created and migrated."""
    tag = uuid.uuid4().hex[:8]
    topic, group = f"user-{tag}", f"user-{tag}"
    topic_prefixes.append(f"{topic}.")
    conn = await asyncpg.connect(user_database)
    try:
        await conn.execute(SEED.format(topic=topic, group=group))
    finally:
        await conn.close()
    await _seed_topics(services.bootstrap_servers, topic, group)
    topics = [f"{topic}.{s.value}" for s in Stream]
    rows_before = await _fingerprints(user_database)
    ends_before = await end_offsets(services.bootstrap_servers, topics)
    env = {
        **os.environ,
        "DATABASE_URL": user_database,
        "KAFKA_BOOTSTRAP_SERVERS": services.bootstrap_servers,
        "UTXOIQ_GROUP_PREFIX": group,
        **{f"UTXOIQ_TOPIC_{s.value.upper()}": f"{topic}.{s.value}" for s in Stream},
    }
    inner = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *INNER_TESTS],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert inner.returncode == 0, inner.stdout[-3000:] + inner.stderr[-2000:]
    assert await _fingerprints(user_database) == rows_before
    assert rows_before["backfill_jobs"][0] == 1 and rows_before["dead_letters"][0] == 2
    assert await end_offsets(services.bootstrap_servers, topics) == ends_before
    assert await _committed(services.bootstrap_servers, f"{group}-metrics", topics[2]) == 1
    own = DatabaseSettings(url=test_database_url(user_database))
    assert await current_revision(own) == head_revision()


async def test_a_role_that_may_not_create_the_test_database_gets_one_clear_line(
    user_database: str,
) -> None:
    """Without CREATEDB and without ``<name>_test``, the session stops with one line that
    names the database and how to create it; the user's database is not used instead."""
    role = f"no_createdb_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(user_database)
    await conn.execute(f"CREATE ROLE {role} NOLOGIN NOCREATEDB")
    try:
        await conn.execute(f"SET ROLE {role}")
        with pytest.raises(TestDatabaseUnavailable) as refused:
            await create_if_missing(conn, test_database_url(user_database))
        await conn.execute("RESET ROLE")
        message = str(refused.value)
        parts = urlsplit(user_database)
        address = f"{parts.netloc.rsplit('@', 1)[-1]}{parts.path}_test"
        assert "\n" not in message and address in message
        assert f"createdb -O {role} {parts.path.lstrip('/')}_test" in message
    finally:
        await conn.execute("RESET ROLE")
        await conn.execute(f"DROP ROLE {role}")
        await conn.close()
