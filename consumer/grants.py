"""Naming the grant a PostgreSQL role lacks, when the server says only "permission denied".

PostgreSQL reports a missing privilege (SQLSTATE 42501) as ``permission denied for table
T`` without the privilege; the role's own ``has_table_privilege`` answers which of the
ones the service uses it lacks. No retry can help, so the service stops with that line.
"""

from __future__ import annotations

import re

import asyncpg

from consumer.errors import PermissionMissing, one_line

INSUFFICIENT_PRIVILEGE = "42501"
RUNTIME_PRIVILEGES = ("SELECT", "INSERT", "UPDATE")
"""What deploy/postgres-roles.sql grants the runtime role on each table."""

_DENIED = re.compile(r"permission denied for (?:table|relation) (\S+)")

LACKING = """
SELECT current_user, array(
  SELECT p FROM unnest($2::text[]) AS p WHERE NOT has_table_privilege(current_user, $1, p))
"""


async def missing_grant(pool: asyncpg.Pool, error: BaseException) -> PermissionMissing | None:
    """A ``PermissionMissing`` naming the role, table and privileges, when ``error`` is a
    refused privilege; None for any other error."""
    if getattr(error, "sqlstate", None) != INSUFFICIENT_PRIVILEGE:
        return None
    advice = "grant it (deploy/postgres-roles.sql)"
    found = _DENIED.search(str(error))
    if found is None:
        return PermissionMissing(f"PostgreSQL refuses this role: {one_line(str(error))}: {advice}")
    table = found.group(1)
    try:
        async with pool.acquire() as conn:
            role, lacking = await conn.fetchrow(LACKING, table, list(RUNTIME_PRIVILEGES))
    except (asyncpg.PostgresError, OSError):
        return PermissionMissing(f"PostgreSQL: permission denied for table {table}: {advice}")
    privileges = ", ".join(lacking) or "a privilege"
    return PermissionMissing(
        f"PostgreSQL role {role} lacks {privileges} on table {table}: {advice}"
    )
