"""A database of its own for a test that changes the schema or partitions."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from consumer.db.migrate import upgrade
from consumer.settings import DatabaseSettings
from consumer.writers.staging import create_staging_tables


@contextlib.asynccontextmanager
async def scratch_database(server: DatabaseSettings, tag: str) -> AsyncIterator[DatabaseSettings]:
    """A new empty database on ``server``'s server, dropped when the block ends."""
    name = f"utxoiq_{tag}_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server.dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(server.dsn)
    try:
        yield DatabaseSettings(url=urlunsplit(parts._replace(path=f"/{name}")))
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


@contextlib.asynccontextmanager
async def scratch_pool(server: DatabaseSettings, tag: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on a scratch database at the newest revision, its sessions holding the
    pipelines' staging tables."""
    async with scratch_database(server, tag) as database:
        await asyncio.to_thread(upgrade, database)
        pool = await asyncpg.create_pool(
            database.dsn, min_size=1, max_size=4, init=create_staging_tables
        )
        try:
            yield pool
        finally:
            await pool.close()
