"""Naming the privilege a ``permission denied`` (SQLSTATE 42501) is about.

PostgreSQL names the table it refused but not the privilege, so the consumer asks
``has_table_privilege`` for each privilege its role needs on that table, and the line
the service stops with names both (deploy/postgres-roles.sql grants them).
"""

from __future__ import annotations

import re

import asyncpg

from consumer.errors import DeploymentError, one_line

PRIVILEGES = ("SELECT", "INSERT", "UPDATE")
"""What the consumer's role needs on each of its tables (and never DELETE or DDL)."""
DENIED_TABLE = re.compile(r"permission denied for (?:table|relation) (\S+)")
PERMISSION_DENIED = "42501"


def denied_table(message: str) -> str | None:
    """The table a ``permission denied`` message names (pure)."""
    found = DENIED_TABLE.search(message)
    return found.group(1) if found else None


async def missing_privileges(conn: asyncpg.Connection, table: str) -> list[str]:
    """The privileges of ``PRIVILEGES`` the session's role lacks on ``table``."""
    held = await conn.fetchrow(
        "SELECT " + ", ".join(f"has_table_privilege($1, '{p}') AS {p.lower()}" for p in PRIVILEGES),
        table,
    )
    return [p for p in PRIVILEGES if held is not None and not held[p.lower()]]


async def explain_denied(pool: asyncpg.Pool, error: DeploymentError) -> DeploymentError:
    """``error`` with the table and the missing privileges named, when it is a
    ``permission denied``; as it is otherwise (or when they cannot be found)."""
    table = denied_table(str(error))
    if error.sqlstate != PERMISSION_DENIED or table is None:
        return error
    try:
        async with pool.acquire() as conn:
            role = await conn.fetchval("SELECT current_user")
            missing = await missing_privileges(conn, table)
    except Exception:
        return error
    lacking = ", ".join(missing) if missing else "a privilege"
    return DeploymentError(
        one_line(
            f"PostgreSQL role {role} lacks {lacking} on table {table}: grant it "
            "(deploy/postgres-roles.sql)"
        ),
        error.sqlstate,
    )
