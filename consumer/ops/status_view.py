"""A status snapshot as a screen of tables, or as JSON (pure)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from consumer.ops.status import Member, PartitionStatus, PipelineOverview, StatusReport

MISSING = "-"
COLUMNS = (
    "partition",
    "PG position",
    "Kafka offset",
    "log start",
    "log end",
    "lag",
    "last commit",
    "DLQ pending",
)


def format_age(age: timedelta | None) -> str:
    """``42s``, ``3m05s``, ``2h07m``, ``4d03h`` ago; ``-`` when unknown."""
    if age is None:
        return MISSING
    seconds = max(int(age.total_seconds()), 0)
    minutes, secs = divmod(seconds, 60)
    hours, mins = divmod(minutes, 60)
    days, hrs = divmod(hours, 24)
    if days:
        return f"{days}d{hrs:02d}h ago"
    if hours:
        return f"{hours}h{mins:02d}m ago"
    if minutes:
        return f"{minutes}m{secs:02d}s ago"
    return f"{secs}s ago"


def _opt(value: int | None) -> str:
    return MISSING if value is None else f"{value:,}"


def _members(members: tuple[Member, ...]) -> str:
    if not members:
        return "  no member"
    return "\n".join(
        f"  member {m.client_id}@{m.host}: partitions "
        f"{', '.join(map(str, m.partitions)) or 'none yet'}"
        for m in members
    )


def heading(pipeline: PipelineOverview) -> str:
    count = len(pipeline.members)
    return (
        f"{pipeline.stream.value}: topic {pipeline.topic}, group {pipeline.group} "
        f"({pipeline.state}), {count} member{'' if count == 1 else 's'}, "
        f"lag {pipeline.lag:,}, {pipeline.pending_dead_letters:,} dead letters pending"
    )


def _row(partition: PartitionStatus) -> list[str]:
    return [
        str(partition.partition),
        _opt(partition.stored),
        _opt(partition.committed),
        f"{partition.log_start:,}",
        f"{partition.log_end:,}",
        f"{partition.lag:,}",
        format_age(partition.commit_age),
        f"{partition.pending_dead_letters:,}",
    ]


def pipeline_view(pipeline: PipelineOverview) -> RenderableType:
    parts: list[RenderableType] = [Text(heading(pipeline)), Text(_members(pipeline.members))]
    if not pipeline.partitions:
        parts.append(Text(f"  topic {pipeline.topic} does not exist"))
        return Group(*parts)
    table = Table(box=None, padding=(0, 1), pad_edge=False)
    for name in COLUMNS:
        table.add_column(name, justify="right", no_wrap=True)
    for partition in pipeline.partitions:
        table.add_row(*_row(partition))
    parts.append(table)
    return Group(*parts)


def status_view(report: StatusReport) -> RenderableType:
    """One screen: a heading line, then each pipeline's group, members and partitions."""
    when = report.taken_at.strftime("%Y-%m-%d %H:%M:%S %Z")
    parts: list[RenderableType] = [Text(f"utxoiq status at {when}")]
    for pipeline in report.pipelines:
        parts.extend([Text(""), pipeline_view(pipeline)])
    return Group(*parts)


def _seconds(age: timedelta | None) -> float | None:
    return None if age is None else round(age.total_seconds(), 3)


def partition_dict(partition: PartitionStatus) -> dict[str, Any]:
    return {
        "partition": partition.partition,
        "stored_position": partition.stored,
        "kafka_committed_offset": partition.committed,
        "log_start": partition.log_start,
        "log_end": partition.log_end,
        "lag": partition.lag,
        "last_commit_age_seconds": _seconds(partition.commit_age),
        "dead_letters_pending": partition.pending_dead_letters,
    }


def status_dict(report: StatusReport) -> dict[str, Any]:
    """The snapshot as plain JSON-ready values (one key per figure of the screen)."""
    return {
        "taken_at": report.taken_at.isoformat(),
        "pipelines": [
            {
                "pipeline": p.stream.value,
                "topic": p.topic,
                "topic_exists": bool(p.partitions),
                "group": p.group,
                "state": p.state,
                "members": [
                    {"client_id": m.client_id, "host": m.host, "partitions": list(m.partitions)}
                    for m in p.members
                ],
                "lag": p.lag,
                "dead_letters_pending": p.pending_dead_letters,
                "partitions": [partition_dict(part) for part in p.partitions],
            }
            for p in report.pipelines
        ],
    }
