"""The breaker tables: members report their breaker, operators ask it to close.

``breaker_states`` holds one row per running member of a consumer group, written when
its breaker changes state. ``breaker_closes`` counts the operators' close requests per
group: a member whose breaker opens reads the count, and while open it reads it again
about once a second; a higher count closes its breaker at once. The operations port
serves only metrics and health, so PostgreSQL is where the command and the members meet.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from consumer.breaker import BreakerState

SAVE_STATE = """
INSERT INTO breaker_states AS b (consumer_group, member, pipeline, state, reason, cooldown_s)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (consumer_group, member) DO UPDATE SET
  state = excluded.state, reason = excluded.reason, cooldown_s = excluded.cooldown_s,
  changed_at = now()
"""

REQUEST_CLOSE = """
INSERT INTO breaker_closes AS c (consumer_group, requests) VALUES ($1, 1)
ON CONFLICT (consumer_group) DO UPDATE SET requests = c.requests + 1, requested_at = now()
RETURNING requests
"""


def member_name() -> str:
    """This process's name among a group's members: host, process id and a tag."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True, slots=True)
class MemberBreaker:
    """One member's breaker as it last reported it."""

    member: str
    pipeline: str
    state: BreakerState
    reason: str
    cooldown_s: float
    changed_at: datetime


async def save_state(
    conn: asyncpg.Connection,
    group: str,
    member: str,
    pipeline: str,
    state: BreakerState,
    reason: str,
    cooldown_s: float,
) -> None:
    await conn.execute(SAVE_STATE, group, member, pipeline, state.value, reason, cooldown_s)


async def close_requests(conn: asyncpg.Connection, group: str) -> int:
    """How many closes operators have asked for in ``group`` so far."""
    count = await conn.fetchval(
        "SELECT requests FROM breaker_closes WHERE consumer_group = $1", group
    )
    return int(count or 0)


async def request_close(conn: asyncpg.Connection, group: str) -> int:
    """Ask every member of ``group`` to close its breaker; the new request count."""
    return int(await conn.fetchval(REQUEST_CLOSE, group))


async def member_breakers(conn: asyncpg.Connection, group: str) -> list[MemberBreaker]:
    """Every member's last reported breaker in ``group``, most recent change first."""
    rows = await conn.fetch(
        "SELECT member, pipeline, state, reason, cooldown_s, changed_at FROM breaker_states"
        " WHERE consumer_group = $1 ORDER BY changed_at DESC, member",
        group,
    )
    return [
        MemberBreaker(
            r["member"],
            r["pipeline"],
            BreakerState(r["state"]),
            r["reason"],
            r["cooldown_s"],
            r["changed_at"],
        )
        for r in rows
    ]
