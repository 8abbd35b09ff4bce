"""Micro-batches bounded by records, bytes and age, whichever is reached first."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from consumer.coordinates import Record, TopicPartition


@dataclass(frozen=True, slots=True)
class BatchLimits:
    max_records: int
    max_bytes: int
    max_age_s: float


@dataclass(slots=True)
class Batch:
    """Records gathered from one or more fetches, in offset order per partition."""

    limits: BatchLimits
    records: list[Record] = field(default_factory=list)
    size_bytes: int = 0
    started_at: float | None = None

    def add(self, record: Record, now: float | None = None) -> None:
        if self.started_at is None:
            self.started_at = time.monotonic() if now is None else now
        self.records.append(record)
        self.size_bytes += record.size

    def __len__(self) -> int:
        return len(self.records)

    @property
    def room(self) -> int:
        return max(self.limits.max_records - len(self.records), 0)

    def is_full(self, now: float | None = None) -> bool:
        """Flush on size, bytes or age, whichever comes first."""
        if not self.records:
            return False
        if len(self.records) >= self.limits.max_records:
            return True
        if self.size_bytes >= self.limits.max_bytes:
            return True
        return self.age(now) >= self.limits.max_age_s

    def age(self, now: float | None = None) -> float:
        if self.started_at is None:
            return 0.0
        return (time.monotonic() if now is None else now) - self.started_at

    def next_positions(self) -> dict[TopicPartition, int]:
        """Per partition, the offset after the last record: the position to store."""
        positions: dict[TopicPartition, int] = {}
        for record in self.records:
            tp = record.id.topic_partition
            positions[tp] = max(positions.get(tp, 0), record.id.offset + 1)
        return positions
