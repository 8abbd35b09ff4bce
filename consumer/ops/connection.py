"""The operator's connection: one PostgreSQL session for one command, closed after it."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import asyncpg

from consumer.db.pool import create_pool
from consumer.settings import Settings


@contextlib.asynccontextmanager
async def operator_connection(settings: Settings) -> AsyncIterator[asyncpg.Connection]:
    """One connection to ``DATABASE_URL`` (through a pool of one, so the service's session
    settings apply) for the block's duration."""
    pool = await create_pool(settings.database, max_size=1)
    try:
        async with pool.acquire() as conn:
            yield conn
    finally:
        await pool.close()
