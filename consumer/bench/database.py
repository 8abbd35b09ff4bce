"""The benchmark's database: a dedicated one by default, emptied before each run.

Unless told to run in place, the benchmark never writes to the database named by
``DATABASE_URL``: it uses (creating and migrating it when missing) the database of the
same name plus ``_bench`` on the same server; a name that already ends in ``_bench`` (the
benchmark's own database, named directly) is used as it is.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import asyncpg
from pydantic import SecretStr

from consumer.db.migrate import upgrade
from consumer.db.pool import connect, create_pool
from consumer.settings import DatabaseSettings

SERVICE_TABLES = (
    "backfill_jobs",
    "insight_feedback",
    "system_metrics",
    "system_metrics_hourly",
    "system_metrics_daily",
    "ingest_offsets",
    "dead_letters",
)


class BenchRefused(Exception):
    """The benchmark will not run against this database (it would destroy data)."""


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def bench_database_name(name: str) -> str:
    """The dedicated database for ``name``: itself when it ends in ``_bench``, else
    ``name_bench`` (a name that merely contains "bench", such as ``workbench``, may hold a
    user's data)."""
    return name if name.endswith("_bench") else f"{name}_bench"


def with_url(database: DatabaseSettings, url: str) -> DatabaseSettings:
    """The same database settings pointing at another URL (the environment is not re-read)."""
    values = database.model_dump(exclude={"url"})
    return DatabaseSettings.model_validate({**values, "url": SecretStr(url)})


async def ensure_database(admin: DatabaseSettings, name: str) -> bool:
    """Create database ``name`` on the server of ``admin`` unless it exists; True if created."""
    conn = await connect(admin)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            return False
        quoted = '"' + name.replace('"', '""') + '"'
        await conn.execute(f"CREATE DATABASE {quoted}")
        return True
    finally:
        await conn.close()


async def prepare(database: DatabaseSettings, *, in_place: bool, yes: bool) -> DatabaseSettings:
    """The database to benchmark against, migrated to the newest schema and emptied."""
    url = database.url.get_secret_value()
    target = database
    if not in_place:
        name = bench_database_name(database_name(url))
        if name != database_name(url):
            await ensure_database(database, name)
            target = with_url(database, with_database(url, name))
    await asyncio.to_thread(upgrade, target)
    pool = await create_pool(target, max_size=1)
    try:
        filled = await tables_with_rows(pool)
        if in_place and filled and not yes:
            raise BenchRefused(
                f"database {database_name(url)!r} has rows in {', '.join(filled)}; the "
                "benchmark empties them: pass --yes, or drop --in-place to use a dedicated "
                "database"
            )
        await empty_tables(pool)
    finally:
        await pool.close()
    return target


async def tables_with_rows(pool: asyncpg.Pool) -> list[str]:
    found = []
    for table in SERVICE_TABLES:
        if await pool.fetchval(f"SELECT EXISTS (SELECT 1 FROM {table})"):
            found.append(table)
    return found


async def empty_tables(pool: asyncpg.Pool, tables: tuple[str, ...] = SERVICE_TABLES) -> None:
    await pool.execute(f"TRUNCATE {', '.join(tables)}")


async def server_description(pool: asyncpg.Pool) -> dict[str, str]:
    """The server's version and the settings that weigh on write throughput."""
    names = ("server_version", "synchronous_commit", "fsync", "shared_buffers", "wal_level")
    return {name: str(await pool.fetchval(f"SHOW {name}")) for name in names}


async def stored_positions(
    conn: asyncpg.Connection | asyncpg.Pool, group: str, topic: str
) -> dict[int, int]:
    rows = await conn.fetch(
        "SELECT partition, next_offset FROM ingest_offsets WHERE group_id = $1 AND topic = $2",
        group,
        topic,
    )
    return {r["partition"]: r["next_offset"] for r in rows}
