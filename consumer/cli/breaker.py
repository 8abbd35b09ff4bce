"""``utxoiq breaker``: show a pipeline's dead-letter breaker, or close it at once.

Both go through PostgreSQL: running members report their breaker to ``breaker_states``
and read the close requests in ``breaker_closes`` (``consumer.breaker_store``).
"""

from __future__ import annotations

from typing import Any

import orjson
import typer

from consumer.breaker import BreakerState
from consumer.breaker_control import CLOSE_POLL_S
from consumer.breaker_store import MemberBreaker, member_breakers, request_close
from consumer.cli.common import load_settings
from consumer.cli.guard import guarded
from consumer.ops.connection import operator_connection
from consumer.ops.table import text_table
from consumer.settings import Settings
from schemas.topics import Stream

app = typer.Typer(help="The dead-letter circuit breaker: status, close.", no_args_is_help=True)

COLUMNS = [("member", 40), ("state", 9), ("cooldown", 9), ("changed_at", 32), ("reason", 60)]
PIPELINE = typer.Option(..., "--pipeline", "-p", help="jobs, feedback or metrics.")


@app.command()
def status(
    pipeline: Stream = PIPELINE,
    as_json: bool = typer.Option(False, "--json", help="JSON instead of a table."),
) -> None:
    """Each member's breaker as it last reported it (closed when none ever opened)."""
    settings = load_settings()
    group = settings.ingest.group_id(pipeline)
    members = guarded(_status(settings, group))
    overall = _overall(members)
    if as_json:
        report = {
            "pipeline": pipeline.value,
            "group": group,
            "state": overall.value,
            "members": [_member_json(m) for m in members],
        }
        typer.echo(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        return
    typer.echo(f"{pipeline.value} ({group}): {overall.value}")
    rows = [
        [m.member, m.state.value, f"{m.cooldown_s:g}s", m.changed_at.isoformat(), m.reason]
        for m in members
    ]
    if rows:
        columns = [
            ("member", 40),
            ("state", 9),
            ("cooldown", 9),
            ("changed_at", 32),
            ("reason", 60),
        ]
        for line in text_table(columns, rows):
            typer.echo(line)


def _member_json(member: MemberBreaker) -> dict[str, Any]:
    return {
        "member": member.member,
        "state": member.state.value,
        "reason": member.reason,
        "cooldown_s": member.cooldown_s,
        "changed_at": member.changed_at.isoformat(),
    }


def _overall(members: list[MemberBreaker]) -> BreakerState:
    """Open if any member's is open, else half-open if any is, else closed (also when no
    member has reported one)."""
    states = {m.state for m in members}
    for state in (BreakerState.OPEN, BreakerState.HALF_OPEN):
        if state in states:
            return state
    return BreakerState.CLOSED


async def _status(settings: Settings, group: str) -> list[MemberBreaker]:
    async with operator_connection(settings) as conn:
        return await member_breakers(conn, group)


@app.command()
def close(pipeline: Stream = PIPELINE) -> None:
    """Close the breaker of every member of the pipeline at once (each lets the batch it
    holds through, and judges what follows afresh)."""
    settings = load_settings()
    group = settings.ingest.group_id(pipeline)
    count = guarded(_close(settings, group))
    typer.echo(
        f"close requested for {pipeline.value} ({group}), request {count}: members with an"
        f" open breaker close it within about {CLOSE_POLL_S:g}s"
    )


async def _close(settings: Settings, group: str) -> int:
    async with operator_connection(settings) as conn:
        return await request_close(conn, group)
