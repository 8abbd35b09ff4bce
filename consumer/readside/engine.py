"""The read side's SQLAlchemy async engine: one per process and database, shared.

Every ``DatabaseService`` of a process borrows connections from the same pool; the pool
size, waits and statement timeout come from ``ReadSideSettings``. Call
``dispose_engines`` once when the process (or its event loop) is done.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from consumer.settings import DatabaseSettings, ReadSideSettings

APPLICATION_NAME = "utxoiq-read"

_engines: dict[tuple[str, str], AsyncEngine] = {}


def connect_args(database: DatabaseSettings, read: ReadSideSettings) -> dict[str, Any]:
    """asyncpg connection options: connect timeout, statement timeout, TLS as configured."""
    return {
        **database.sqlalchemy_connect_args(),
        "timeout": read.connect_timeout_s,
        "server_settings": {
            "application_name": APPLICATION_NAME,
            "statement_timeout": str(read.statement_timeout_ms),
            "max_parallel_workers_per_gather": str(read.parallel_workers),
            "timezone": "UTC",
        },
    }


def create_engine(database: DatabaseSettings, read: ReadSideSettings) -> AsyncEngine:
    """A new pooled engine (prefer ``shared_engine``); each read is its own statement."""
    return create_async_engine(
        database.sqlalchemy_url,
        pool_size=read.pool_size,
        max_overflow=read.max_overflow,
        pool_timeout=read.pool_timeout_s,
        pool_recycle=read.pool_recycle_s,
        pool_pre_ping=True,
        isolation_level="AUTOCOMMIT",
        connect_args=connect_args(database, read),
    )


def shared_engine(database: DatabaseSettings, read: ReadSideSettings) -> AsyncEngine:
    """The process's engine for this database and pool configuration, made on first use."""
    key = (database.sqlalchemy_url, f"{database.ca_file}|{read.model_dump_json()}")
    engine = _engines.get(key)
    if engine is None:
        engine = _engines[key] = create_engine(database, read)
    return engine


async def dispose_engines() -> None:
    """Close every shared engine's connections; the next use opens a fresh pool."""
    engines = list(_engines.values())
    _engines.clear()
    for engine in engines:
        await engine.dispose()
