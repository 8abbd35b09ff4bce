"""Micro-batches bounded by records, bytes and age, whichever is reached first.

Records are kept per partition, in offset order and as fetched, so the positions a
batch covers are read off each partition's first and last record instead of from
every record.

A batch's age runs from when it was started or, if earlier, from the Kafka timestamp of
its oldest record: records that already waited (in the fetch buffer, or behind another
write lane) are not held any longer. Timestamps from the producer's clock can only make
a batch flush sooner, never later.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from consumer.coordinates import KafkaMessage, TopicPartition, payload_bytes


def above_floor(records: list[KafkaMessage], floor: int | None) -> list[KafkaMessage]:
    """The records at or past ``floor``, a partition's stored position (None: nothing
    stored, so all of them); ``records`` itself when none is below, the usual case."""
    if floor is None or not records or records[0].offset >= floor:
        return records
    return [record for record in records if record.offset >= floor]


@dataclass(frozen=True, slots=True)
class BatchLimits:
    max_records: int
    max_bytes: int
    max_age_s: float


@dataclass(slots=True)
class Batch:
    """Records gathered from one or more fetches, in offset order per partition."""

    limits: BatchLimits
    parts: dict[TopicPartition, list[KafkaMessage]] = field(default_factory=dict)
    count: int = 0
    size_bytes: int = 0
    started_at: float | None = None
    produced_ms: int | None = None

    def extend(
        self,
        tp: TopicPartition,
        records: list[KafkaMessage],
        now: float | None = None,
        size: int | None = None,
    ) -> None:
        """Append one partition's records, which follow any it already holds (``size``:
        their payload bytes, when already counted). The list is handed over: the first
        one of a partition is kept as it is, without a copy, so the caller must not use
        it again."""
        if not records:
            return
        if self.started_at is None:
            self.started_at = time.monotonic() if now is None else now
        stamp = records[0].timestamp
        if stamp > 0 and (self.produced_ms is None or stamp < self.produced_ms):
            self.produced_ms = stamp
        held = self.parts.get(tp)
        if held is None:
            self.parts[tp] = records
        else:
            held.extend(records)
        self.count += len(records)
        self.size_bytes += payload_bytes(records) if size is None else size

    def __len__(self) -> int:
        return self.count

    def __iter__(self) -> Iterator[KafkaMessage]:
        """The records, partition after partition, each in offset order (no list built)."""
        return itertools.chain.from_iterable(self.parts.values())

    @property
    def room(self) -> int:
        return max(self.limits.max_records - self.count, 0)

    def is_full(self, now: float | None = None, wall: float | None = None) -> bool:
        """Flush on size, bytes or age, whichever comes first."""
        if not self.count:
            return False
        return self.at_limit() or self.age(now, wall) >= self.limits.max_age_s

    def at_limit(self) -> bool:
        """Holds as many records, or as many bytes, as a batch may."""
        return self.count >= self.limits.max_records or self.size_bytes >= self.limits.max_bytes

    def age(self, now: float | None = None, wall: float | None = None) -> float:
        """Seconds since the batch started (``now``: monotonic) or since its oldest record
        was produced (``wall``: epoch seconds), whichever is longer."""
        if self.started_at is None:
            return 0.0
        started = (time.monotonic() if now is None else now) - self.started_at
        waited = self.since_produced(wall)
        return started if waited is None else max(started, waited)

    def since_produced(self, wall: float | None = None) -> float | None:
        """Seconds since the oldest record's Kafka timestamp (``wall``: epoch seconds, now
        by default); None when no record carries one."""
        if self.produced_ms is None:
            return None
        return (time.time() if wall is None else wall) - self.produced_ms / 1000

    def next_positions(self) -> dict[TopicPartition, int]:
        """Per partition, the offset after the last record: the position to store."""
        return {tp: records[-1].offset + 1 for tp, records in self.parts.items()}

    def owned(self, positions: Mapping[TopicPartition, int | None]) -> Batch:
        """The part of the batch still owned: partitions held, records at or past the
        stored position (the whole batch, unchanged, in the usual case)."""
        kept: dict[TopicPartition, list[KafkaMessage]] = {}
        for tp, records in self.parts.items():
            if tp not in positions:
                continue
            records = above_floor(records, positions[tp])
            if records:
                kept[tp] = records
        if kept.keys() == self.parts.keys() and all(kept[tp] is self.parts[tp] for tp in kept):
            return self
        trimmed = Batch(self.limits, started_at=self.started_at)
        for tp, records in kept.items():
            trimmed.extend(tp, list(records))  # a copy: this batch keeps its own lists
        return trimmed
