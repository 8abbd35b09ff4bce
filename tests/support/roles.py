"""The roles of deploy/postgres-roles.sql on a database of their own, for least-privilege
tests: the file is run by psql as written, the migrations as the migration role.

Roles belong to the whole server, the grants to one database: ``utxoiq_roles`` is made
afresh once per test session (the schema ``utxoiq`` the file creates would otherwise
change where the admin role's own tables go). Loaded as a pytest plugin.
"""

from __future__ import annotations

import asyncio
import glob
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from consumer.db.migrate import upgrade
from consumer.db.tables import metadata
from consumer.settings import DatabaseSettings
from tests.support.services import REPO, Services

DATABASE = "utxoiq_roles"
ROLES_FILE = REPO / "deploy" / "postgres-roles.sql"
PASSWORDS = {
    "migrate": "utxoiq-migrate-secret",
    "ingest": "utxoiq-ingest-secret",
    "read": "utxoiq-read-secret",
}


@dataclass(frozen=True)
class RoleUrls:
    """``postgresql://`` URLs of the ``utxoiq_roles`` database, one per role."""

    admin: str
    migrate: str
    ingest: str
    read: str

    def database(self, role: str) -> DatabaseSettings:
        return DatabaseSettings(url=getattr(self, role))


def url_for(admin_url: str, user: str | None, password: str | None) -> str:
    parts = urlsplit(admin_url)
    host = parts.netloc.rsplit("@", 1)[-1]
    netloc = f"{user}:{password}@{host}" if user else parts.netloc
    return urlunsplit((parts.scheme, netloc, f"/{DATABASE}", parts.query, ""))


def find_psql() -> str:
    found = shutil.which("psql") or next(
        iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/psql"))), None
    )
    if found is None:
        pytest.fail(
            "psql is needed to run deploy/postgres-roles.sql (install postgresql-client)", False
        )
    return found


def run_roles_file(admin_url: str) -> None:
    variables = [arg for role, pw in PASSWORDS.items() for arg in ("-v", f"{role}_password={pw}")]
    result = subprocess.run(
        [
            find_psql(),
            admin_url,
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            *variables,
            "-f",
            str(ROLES_FILE),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if result.returncode != 0:
        pytest.fail(f"psql -f deploy/postgres-roles.sql failed: {result.stderr.strip()}", False)


async def recreate_database(admin_url: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def role_urls(services: Services) -> RoleUrls:
    """A fresh ``utxoiq_roles`` database: roles file, migrations as ``utxoiq_migrate``,
    roles file again (as its header says to)."""
    if not services.pg_managed:
        pytest.fail("the least-privilege tests need the local stack's own PostgreSQL", False)
    await recreate_database(services.database_url)
    urls = RoleUrls(
        admin=url_for(services.database_url, None, None),
        migrate=url_for(services.database_url, "utxoiq_migrate", PASSWORDS["migrate"]),
        ingest=url_for(services.database_url, "utxoiq_ingest", PASSWORDS["ingest"]),
        read=url_for(services.database_url, "utxoiq_read", PASSWORDS["read"]),
    )
    await asyncio.to_thread(run_roles_file, urls.admin)
    await asyncio.to_thread(upgrade, urls.database("migrate"))
    await asyncio.to_thread(run_roles_file, urls.admin)
    return urls


@pytest.fixture
async def roles_db(role_urls: RoleUrls) -> AsyncIterator[asyncpg.Pool]:
    """The ``utxoiq_roles`` database, tables emptied, as its admin (a super user)."""
    pool = await asyncpg.create_pool(role_urls.admin, min_size=1, max_size=2)
    tables = ", ".join(f"utxoiq.{table.name}" for table in metadata.sorted_tables)
    await pool.execute(f"TRUNCATE {tables}")
    yield pool
    await pool.close()
