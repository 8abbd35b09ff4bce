"""What happened to each record of a batch: the values every stage hands on."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from consumer.coordinates import KafkaMessage, Record
from consumer.vocabulary import Stage


class Outcome(StrEnum):
    """The ends a consumed record can reach (ARCHITECTURE.md, promise 2, and the wire
    format's rule for metric samples older than the raw retention)."""

    INSERTED = "inserted"
    """Applied: created a row."""
    UPDATED = "updated"
    """Applied: changed an existing row."""
    SUPERSEDED = "superseded"
    """A no-op because a newer state is already stored (or the same event was applied)."""
    EXPIRED = "expired"
    """A metric sample older than the raw retention: counted, neither stored nor rolled up."""
    DEAD_LETTERED = "dead_lettered"
    """Published to the dead-letter topic and recorded in ``dead_letters`` (now, or when
    the record was consumed before)."""


class Decoded(NamedTuple):
    """A record whose value is a valid event of its pipeline."""

    record: KafkaMessage
    event: Any


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that cannot be applied, with the reason."""

    record: Record
    stage: Stage
    error_class: str
    message: str
    event_id: str | None = None
    event_type: str | None = None

    @classmethod
    def rejected(cls, item: Decoded, error: Exception) -> DeadLetter:
        from consumer.errors import one_line

        return cls(
            Record.of(item.record),
            Stage.APPLY,
            getattr(error, "error_class", type(error).__name__),
            one_line(str(error)),
            str(item.event.id),
            item.event.type,
        )


@dataclass(slots=True)
class WriteResult:
    """What a pipeline's writer did with the decoded records of one batch."""

    outcomes: Counter[Outcome] = field(default_factory=Counter)
    rejected: list[DeadLetter] = field(default_factory=list)

    def merge(self, other: WriteResult) -> WriteResult:
        self.outcomes.update(other.outcomes)
        self.rejected.extend(other.rejected)
        return self


@dataclass(slots=True)
class BatchReport:
    """Per-batch outcome counts, logged and exported as metrics."""

    records: int = 0
    bytes: int = 0
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    dead_by_stage: Counter[Stage] = field(default_factory=Counter)
    unknown_fields: Counter[str] = field(default_factory=Counter)
    """Unknown fields ignored in the batch's valid events, per event type."""
    write_seconds: float = 0.0
    queued_seconds: float | None = None
    """From the oldest record's Kafka timestamp to the start of the write: how long the
    batch's records waited to be fetched, gathered, decoded and given a lane."""
    oldest_event_age_s: float | None = None
    failed_again: int = 0
    """Records that failed again and already had a dead letter (not published again)."""
    redriven: int = 0
    """Records with a dead letter that now applied (their rows marked ``redriven``)."""

    def as_log(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "bytes": self.bytes,
            "inserted": self.outcomes[Outcome.INSERTED],
            "updated": self.outcomes[Outcome.UPDATED],
            "superseded": self.outcomes[Outcome.SUPERSEDED],
            "expired": self.outcomes[Outcome.EXPIRED],
            "dead_lettered": {stage.value: count for stage, count in self.dead_by_stage.items()},
            "failed_again": self.failed_again,
            "redriven": self.redriven,
            "write_ms": round(self.write_seconds * 1000, 1),
            "queued_ms": None if self.queued_seconds is None else round(self.queued_seconds * 1000),
        }
