"""The test suite's own database, beside the one ``make run`` uses.

The suite empties every service table before each integration test, so it never runs
on the database ``DATABASE_URL`` names: it runs on ``<name>_test`` on the same server,
created when missing (the role needs CREATEDB) and migrated by the session's fixtures.
A URL whose database name already ends in ``_test`` is used as it is.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit, urlunsplit

import asyncpg

SUFFIX = "_test"
CONNECT_TIMEOUT_S = 10.0


class TestDatabaseUnavailable(RuntimeError):
    """The test database is missing and this role may not create it."""

    __test__ = False  # a pytest collection hint: this is not a test class


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/") or "postgres"


def test_database_url(url: str) -> str:
    """The same server, role and options; the database ``<name>_test``."""
    name = database_name(url)
    if name.endswith(SUFFIX):
        return url
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}{SUFFIX}"))


test_database_url.__test__ = False  # type: ignore[attr-defined]


def _address(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.netloc.rsplit('@', 1)[-1]}/{database_name(url)}"


async def create_if_missing(conn: asyncpg.Connection, test_url: str) -> None:
    """Create the test database through ``conn`` unless it exists; one clear line when
    the role may not."""
    name = database_name(test_url)
    if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
        return
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    except asyncpg.DuplicateDatabaseError:
        return  # created meanwhile by another session
    except asyncpg.InsufficientPrivilegeError:
        role = await conn.fetchval("SELECT current_user")
        raise TestDatabaseUnavailable(
            f"the tests need their own database {_address(test_url)} and role {role} "
            f"may not create it: run `createdb -O {role} {name}` on that server once, "
            "or grant the role CREATEDB"
        ) from None


async def _connect(user_url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(user_url, timeout=CONNECT_TIMEOUT_S)
    except asyncpg.InvalidCatalogNameError:  # the user's database is not created yet
        maintenance = urlunsplit(urlsplit(user_url)._replace(path="/postgres"))
        return await asyncpg.connect(maintenance, timeout=CONNECT_TIMEOUT_S)


async def _ensure(user_url: str, test_url: str) -> None:
    conn = await _connect(user_url)
    try:
        await create_if_missing(conn, test_url)
    finally:
        await conn.close()


def ensure_test_database(user_url: str) -> str:
    """The test database's URL, the database created on the server when missing."""
    test_url = test_database_url(user_url)
    if test_url != user_url:
        asyncio.run(_ensure(user_url, test_url))
    return test_url
