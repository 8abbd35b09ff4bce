"""A database of its own for a test that changes the schema or partitions."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from consumer.settings import DatabaseSettings


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
