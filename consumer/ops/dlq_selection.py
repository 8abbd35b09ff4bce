"""Which dead letters an operator's command acts on: the filter and its SQL."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from consumer.coordinates import RecordId
from consumer.db.tables import DEAD_LETTER_STAGES, DEAD_LETTER_STATUSES


@dataclass(frozen=True, slots=True)
class DeadLetterFilter:
    """Which dead letters a command acts on; every field left out matches all."""

    topic: str | None = None
    stage: str | None = None
    error_class: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    key: bytes | None = None
    limit: int | None = None
    ids: tuple[RecordId, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.stage is not None and self.stage not in DEAD_LETTER_STAGES:
            raise ValueError(
                f"unknown stage {self.stage!r} (one of {', '.join(DEAD_LETTER_STAGES)})"
            )
        if self.status is not None and self.status not in DEAD_LETTER_STATUSES:
            raise ValueError(
                f"unknown status {self.status!r} (one of {', '.join(DEAD_LETTER_STATUSES)})"
            )
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")
        if self.since and self.until and self.since >= self.until:
            raise ValueError("since must be before until")


def where_clause(selection: DeadLetterFilter, first: int = 1) -> tuple[str, list[Any]]:
    """``WHERE ...`` (or "") and its arguments, numbered from ``$first`` (pure)."""
    conditions: list[str] = []
    args: list[Any] = []

    def arg(value: Any) -> str:
        args.append(value)
        return f"${first + len(args) - 1}"

    for column in ("topic", "stage", "error_class", "status"):
        value = getattr(selection, column)
        if value is not None:
            conditions.append(f"{column} = {arg(value)}")
    if selection.since is not None:
        conditions.append(f"failed_at >= {arg(selection.since)}")
    if selection.until is not None:
        conditions.append(f"failed_at < {arg(selection.until)}")
    if selection.key is not None:
        conditions.append(f"record_key = {arg(selection.key)}")
    if selection.ids:
        topics, partitions, offsets = (list(c) for c in zip(*selection.ids, strict=True))
        conditions.append(
            f'(topic, partition, "offset") IN (SELECT * FROM unnest('
            f"{arg(topics)}::text[], {arg(partitions)}::int[], {arg(offsets)}::bigint[]))"
        )
    return ("WHERE " + " AND ".join(conditions) if conditions else ""), args


def limit_clause(selection: DeadLetterFilter) -> str:
    return f"LIMIT {int(selection.limit)}" if selection.limit else ""
