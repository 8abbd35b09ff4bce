"""How ``utxoiq dlq`` shows dead letters: JSON, aligned rows, records with their bytes
escaped (``consumer.ops.render``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
import typer

from consumer.coordinates import Record
from consumer.ops.dlq import DeadLetterRow, StatsRow
from consumer.ops.redrive import RedriveReport
from consumer.ops.render import escape_text, render_bytes
from schemas.topics import dlq_topic


def echo_json(value: Any) -> None:
    typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())


def short(value: bytes | None) -> str:
    """A record key on one escaped line."""
    return render_bytes(value, keep_layout=False).text


def time_text(value: datetime) -> str:
    return f"{value:%Y-%m-%d %H:%M:%S}"


def stats_json(row: StatsRow) -> dict[str, Any]:
    return {
        "topic": row.topic,
        "stage": row.stage,
        "error_class": row.error_class,
        "status": row.status,
        "count": row.count,
        "first_failed_at": row.first_failed_at.isoformat(),
        "last_failed_at": row.last_failed_at.isoformat(),
    }


def print_row(row: DeadLetterRow) -> None:
    lines = [
        f"dead letter {row.id}",
        f"  status      {row.status}"
        + (f" ({row.status_reason})" if row.status_reason else "")
        + f", attempts {row.attempts}, redriven {row.redrive_count} time(s) to the topic",
        f"  stage       {row.stage}",
        f"  error       {row.error_class}: {row.error_message}",
        f"  failed at   {row.failed_at.isoformat()}",
        f"  group       {row.consumer_group}",
    ]
    if row.event_type or row.event_id:
        lines.append(f"  event       {row.event_type or '-'} {row.event_id or '-'}")
    if row.dlq_partition is not None:
        lines.append(
            f"  in topic    {dlq_topic(row.id.topic)}:{row.dlq_partition}:{row.dlq_offset}"
        )
    typer.echo("\n".join(escape_text(line) for line in lines))


def print_record(record: Record, title: str) -> None:
    key = render_bytes(record.key, keep_layout=False)
    value = render_bytes(record.value)
    lines = [
        f"{title} {escape_text(str(record.id))}",
        f"key ({key.kind}): {key.text}",
        f"headers ({len(record.headers)}):",
        *(
            f"  {escape_text(name)}: {render_bytes(v, keep_layout=False).text}"
            for name, v in record.headers
        ),
        f"value ({value.kind}, {len(record.value or b'')} bytes):",
        value.text,
    ]
    typer.echo("\n".join(lines))


def print_redrive(report: RedriveReport, to_topic: bool) -> None:
    verb = "republished" if to_topic else "applied"
    parts = [
        f"selected: {report.selected}",
        f"{verb}: {report.applied}",
        *([] if to_topic else [f"superseded: {report.superseded}"]),
        *([] if to_topic else [f"still failing: {report.still_failing}"]),
        f"skipped (not pending): {report.skipped}",
        *([f"refused (redriven too often): {report.refused}"] if to_topic else []),
    ]
    typer.echo(("" if report.executed else "dry run: ") + ", ".join(parts))
    # The error message may quote the record (a field name, a value): `dlq show` has it.
    for record, error_class, _ in report.failures:
        typer.echo(escape_text(f"  still failing {record}: {error_class} (see `utxoiq dlq show`)"))
    if not report.executed:
        typer.echo("nothing changed (add --execute to act)")
