"""asyncpg connection pools for the write path (COPY needs the raw driver)."""

from __future__ import annotations

from typing import Any

import asyncpg

from consumer.settings import DatabaseSettings


async def keep_session(conn: asyncpg.Connection) -> None:
    """Give a connection back to its pool as it is (asyncpg still rolls back a transaction
    left open): the pool's default reset is one more round trip per batch, and the write
    path leaves nothing to reset, as it settles only ``SET LOCAL``, which ends with the
    transaction, and takes no advisory lock, cursor or ``LISTEN``."""


async def create_pool(
    database: DatabaseSettings,
    *,
    max_size: int,
    init: Any = None,
    reset: Any = None,
    session: dict[str, str] | None = None,
) -> asyncpg.Pool:
    """A pool whose sessions carry the statement timeout and the service's name (TLS as
    set), and ``session``'s settings."""
    options: dict[str, Any] = {}
    ssl_option = database.ssl_argument()
    if ssl_option is not None:
        options["ssl"] = ssl_option
    pool = await asyncpg.create_pool(
        database.dsn,
        min_size=min(database.pool_min_size, max_size),
        max_size=max_size,
        timeout=database.connect_timeout_s,
        command_timeout=None,
        server_settings={
            "application_name": "utxoiq-ingest",
            "statement_timeout": str(database.statement_timeout_ms),
            **(session or {}),
        },
        init=init,
        reset=reset,
        **options,
    )
    assert pool is not None
    return pool


async def connect(database: DatabaseSettings) -> asyncpg.Connection:
    """One connection (TLS as set), for commands that need no pool."""
    options = {} if database.ssl_argument() is None else {"ssl": database.ssl_argument()}
    return await asyncpg.connect(database.dsn, timeout=database.connect_timeout_s, **options)
