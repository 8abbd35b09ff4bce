"""``utxoiq replay``: move a pipeline's positions, in PostgreSQL and Kafka together."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from consumer.cli.common import load_settings
from consumer.cli.errors import EXIT_USAGE, fail, parsed
from consumer.cli.guard import guarded
from consumer.ops.arguments import TIME_FORMS, parse_partitions, parse_when
from consumer.ops.errors import OperationRefused
from consumer.ops.replay import (
    ReplayPlan,
    ReplayTarget,
    TargetKind,
    execute_replay,
    plan_replay,
    refuse_if_live,
)
from consumer.settings import Settings
from schemas.topics import Stream


def replay(
    pipeline: str = typer.Option(
        ..., "--pipeline", "-p", help="jobs, feedback or metrics.", show_default=False
    ),
    to_earliest: bool = typer.Option(False, "--to-earliest", help="The oldest offset kept."),
    to_latest: bool = typer.Option(False, "--to-latest", help="The end (skip the backlog)."),
    to_offset: int | None = typer.Option(None, "--to-offset", metavar="N", help="Offset N."),
    to_datetime: str | None = typer.Option(
        None,
        "--to-datetime",
        metavar="T",
        help=f"First record at or after T: {TIME_FORMS}.",
    ),
    shift_by: int | None = typer.Option(
        None, "--shift-by", metavar="N", help="The stored position plus N (N < 0 goes back)."
    ),
    partitions: str | None = typer.Option(
        None, "--partitions", metavar="LIST", help="Only these partitions, e.g. 0,2 or 0-3."
    ),
    dry_run: bool = typer.Option(
        True, "--dry-run/--execute", help="Show the plan (default), or carry it out."
    ),
) -> None:
    """Replay a pipeline from an offset, a time, or a shift of its positions.

    Prints, per partition, the stored position, the target and the records to reprocess.
    --execute moves the positions stored in PostgreSQL and the group's Kafka offsets
    together; it refuses while the group has live members.
    """
    stream = parse_pipeline(pipeline)
    target = parse_target(to_earliest, to_latest, to_offset, to_datetime, shift_by)
    chosen = parsed("--partitions", parse_partitions, partitions)
    settings = load_settings()
    plan = guarded(plan_replay(settings, stream, target, chosen))
    print_plan(plan)
    if dry_run:
        if plan.members:
            typer.echo(f"note: --execute would be refused now: {_live(plan)}")
        typer.echo("dry run: nothing moved (add --execute to move the positions)")
        return
    guarded(_execute(settings, plan))
    typer.echo(f"moved {len(plan.partitions)} partition(s) of group {plan.group}")


async def _execute(settings: Settings, plan: ReplayPlan) -> None:
    refuse_if_live(plan.group, plan.members)
    await execute_replay(settings, plan)


def _live(plan: ReplayPlan) -> str:
    try:
        refuse_if_live(plan.group, plan.members)
    except OperationRefused as exc:
        return str(exc)
    return ""


def parse_pipeline(text: str) -> Stream:
    try:
        return Stream(text.strip().lower())
    except ValueError:
        fail(f"unknown pipeline {text!r} (one of {', '.join(s.value for s in Stream)})", EXIT_USAGE)


def parse_target(
    earliest: bool, latest: bool, offset: int | None, when: str | None, shift: int | None
) -> ReplayTarget:
    given = [earliest, latest, offset is not None, when is not None, shift is not None]
    if sum(given) != 1:
        fail(
            "give exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime, "
            "--shift-by",
            EXIT_USAGE,
        )
    if earliest or latest:
        return ReplayTarget(TargetKind.EARLIEST if earliest else TargetKind.LATEST)
    if offset is not None:
        if offset < 0:
            fail(f"--to-offset must not be negative, got {offset}", EXIT_USAGE)
        return ReplayTarget(TargetKind.OFFSET, offset=offset)
    if shift is not None:
        return ReplayTarget(TargetKind.SHIFT, offset=shift)
    assert when is not None
    return ReplayTarget(TargetKind.DATETIME, at=parsed("--to-datetime", parse_when, when))


def print_plan(plan: ReplayPlan) -> None:
    typer.echo(
        f"replay {plan.stream.value}: topic {plan.topic}, group {plan.group}, "
        f"to {plan.target.describe()}"
    )
    console = Console(highlight=False, markup=False, emoji=False)
    table = Table()
    for name in ("partition", "stored", "kafka", "earliest", "latest", "target", "to reprocess"):
        table.add_column(name, justify="right", no_wrap=True)
    for p in plan.partitions:
        table.add_row(
            *(str(v) for v in (p.partition, _opt(p.stored), _opt(p.committed), p.earliest)),
            *(str(v) for v in (p.latest, p.target, p.to_reprocess)),
        )
    table.add_section()
    table.add_row("total", "", "", "", "", "", str(plan.to_reprocess))
    console.print(table)


def _opt(value: int | None) -> str:
    return "-" if value is None else str(value)
