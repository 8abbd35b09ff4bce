"""``utxoiq dlq``: inspect, export, redrive and discard dead letters.

Reads come from the ``dead_letters`` table (and, when asked, the dead-letter topics,
read without a consumer group); nothing here moves a consumer position.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import typer

from consumer.cli.common import load_settings
from consumer.cli.dlq_export import export
from consumer.cli.dlq_filter import ACTION, RECORDS, SUMMARY, Option, filtered, record_id
from consumer.cli.dlq_views import (
    echo_json,
    print_record,
    print_redrive,
    print_row,
    short,
    stats_json,
    time_text,
)
from consumer.cli.errors import EXIT_USAGE, fail
from consumer.cli.guard import guarded
from consumer.coordinates import Record, RecordId
from consumer.ops.connection import operator_connection
from consumer.ops.dlq import (
    DeadLetterRow,
    StatsRow,
    dead_letter_stats,
    discard,
    get_dead_letter,
    list_dead_letters,
)
from consumer.ops.dlq_selection import DeadLetterFilter
from consumer.ops.dlq_topic import read_record, record_to_json
from consumer.ops.errors import OperationRefused
from consumer.ops.redrive import (
    DEFAULT_MAX_REDRIVES,
    redrive,
    redrive_to_topic,
)
from consumer.ops.render import escape_text
from consumer.ops.table import text_table
from consumer.settings import Settings
from schemas.topics import DLQ_SUFFIX, dlq_topic

app = typer.Typer(
    help="Dead letters: stats, list, show, export, redrive, discard.", no_args_is_help=True
)

DRY_RUN = typer.Option(True, "--dry-run/--execute", help="Forecast (default), or act.")
JSON = typer.Option(False, "--json", help="JSON instead of a table.")


# -- stats and list --------------------------------------------------------------


@app.command()
@filtered(SUMMARY)
def stats(
    chosen: DeadLetterFilter,
    as_json: bool = JSON,
) -> None:
    """Counts per source topic, stage, error class and status."""
    rows = guarded(_stats(load_settings(), chosen))
    if as_json:
        echo_json([stats_json(row) for row in rows])
        return
    table = [
        (
            r.topic,
            r.stage,
            r.error_class,
            r.status,
            str(r.count),
            time_text(r.first_failed_at),
            time_text(r.last_failed_at),
        )
        for r in rows
    ]
    columns = (("topic", 60), ("stage", 8), ("error class", 40), ("status", 9), ("count", 12))
    lines = text_table(
        (*columns, ("first", 19), ("last", 19)), [[escape_text(c) for c in row] for row in table]
    )
    totals: dict[str, int] = {}
    for r in rows:
        totals[r.status] = totals.get(r.status, 0) + r.count
    summary = ", ".join(f"{s}: {n}" for s, n in sorted(totals.items())) or "none"
    typer.echo("\n".join([*lines, f"total {sum(totals.values())} ({summary})"]))


async def _stats(settings: Settings, chosen: DeadLetterFilter) -> list[StatsRow]:
    async with operator_connection(settings) as conn:
        return await dead_letter_stats(conn, chosen)


@app.command("list")
@filtered((*SUMMARY, Option.KEY))
def list_(
    chosen: DeadLetterFilter,
    limit: int = typer.Option(50, "--limit", min=1, metavar="N", help="At most N records."),
    as_json: bool = JSON,
) -> None:
    """Dead letters, newest first: a table, or --json (values in base64)."""
    rows = guarded(_list(load_settings(), dataclasses.replace(chosen, limit=limit)))
    if as_json:
        echo_json([row.to_json() for row in rows])
        return
    columns = (
        ("record", 60),
        ("failed at", 19),
        ("stage", 8),
        ("error class", 30),
        ("status", 9),
        ("tries", 5),
        ("key", 24),
        ("message", 120),
    )
    table = [
        [
            escape_text(str(row.id)),
            time_text(row.failed_at),
            row.stage,
            escape_text(row.error_class),
            row.status,
            str(row.attempts),
            short(row.key),
            escape_text(row.error_message),
        ]
        for row in rows
    ]
    typer.echo("\n".join(text_table(columns, table)))


async def _list(settings: Settings, chosen: DeadLetterFilter) -> list[DeadLetterRow]:
    async with operator_connection(settings) as conn:
        return await list_dead_letters(conn, chosen)


# -- show ------------------------------------------------------------------------


@app.command()
def show(
    record: str = typer.Argument(..., metavar="TOPIC:PARTITION:OFFSET", help="Source record."),
    from_topic: bool = typer.Option(
        False, "--from-topic", help="Read the record's bytes from the dead-letter topic."
    ),
    as_json: bool = JSON,
) -> None:
    """One dead letter: every header, and the value pretty-printed or safely escaped.

    A JSON value is pretty-printed; anything else is shown escaped. With a dead-letter
    topic's coordinates (TOPIC ending in .dlq) the record is read from that topic.
    """
    wanted = record_id(record)
    row, found = guarded(_show(load_settings(), wanted, from_topic))
    if as_json:
        echo_json({**(row.to_json() if row else {}), **(record_to_json(found) if found else {})})
        return
    if row is not None:
        print_row(row)
    shown = found or (row.record() if row else None)
    if shown is not None:
        print_record(shown, "dead-letter topic record" if found else "original record")


async def _show(
    settings: Settings, wanted: RecordId, from_topic: bool
) -> tuple[DeadLetterRow | None, Record | None]:
    if wanted.topic.endswith(DLQ_SUFFIX):
        return None, await read_record(settings, wanted)
    async with operator_connection(settings) as conn:
        row = await get_dead_letter(conn, wanted)
    if not from_topic:
        return row, None
    if row.dlq_partition is None or row.dlq_offset is None:
        raise OperationRefused(f"dead letter {wanted} has no dead-letter topic coordinates")
    place = RecordId(dlq_topic(wanted.topic), row.dlq_partition, row.dlq_offset)
    return row, await read_record(settings, place)


# -- export ----------------------------------------------------------------------


app.command()(filtered(RECORDS)(export))


# -- redrive and discard ---------------------------------------------------------


@app.command("redrive")
@filtered(ACTION)
def redrive_(
    chosen: DeadLetterFilter,
    dry_run: bool = DRY_RUN,
    to_topic: bool = typer.Option(
        False, "--to-topic", help="Republish to the source topic instead (all its groups see it)."
    ),
    max_redrives: int = typer.Option(
        DEFAULT_MAX_REDRIVES, "--max-redrives", metavar="N", help="--to-topic: refuse past N."
    ),
) -> None:
    """Apply pending dead letters again, straight into PostgreSQL.

    They go through the consumer's own decode and write path; other subscribers of the
    source topic see nothing, and no consumer position moves. Records that apply become
    redriven; records that still fail stay pending with one more attempt.
    """
    if max_redrives < 1:
        fail(f"--max-redrives must be at least 1, got {max_redrives}", EXIT_USAGE)
    settings = load_settings()
    if to_topic:
        report = guarded(
            redrive_to_topic(settings, chosen, execute=not dry_run, max_redrives=max_redrives)
        )
    else:
        report = guarded(redrive(settings, chosen, execute=not dry_run))
    print_redrive(report, to_topic)


@app.command("discard")
@filtered(ACTION)
def discard_(
    chosen: DeadLetterFilter,
    reason: str = typer.Option(..., "--reason", help="Why (stored with each record)."),
    dry_run: bool = DRY_RUN,
) -> None:
    """Mark pending dead letters discarded, with a reason, so stats show what is left."""
    report = guarded(_discard(load_settings(), chosen, reason, not dry_run))
    prefix = "" if report.executed else "dry run: "
    typer.echo(
        f"{prefix}selected: {report.selected}, discarded: {report.discarded}, "
        f"skipped (not pending): {report.skipped}"
    )
    if not report.executed:
        typer.echo("nothing changed (add --execute to act)")


async def _discard(settings: Settings, chosen: DeadLetterFilter, reason: str, execute: bool) -> Any:
    async with operator_connection(settings) as conn:
        return await discard(conn, chosen, reason, execute=execute)
