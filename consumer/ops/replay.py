"""Replay: move a pipeline's positions back (or forward), in PostgreSQL and in Kafka.

A plan reads, per partition, the position stored in PostgreSQL (the source of truth),
the group's committed Kafka offset and the partition's earliest and latest offsets, and
computes the target, clamped to ``[earliest, latest]``. Executing it refuses while the
group has live members, then stores the targets as the group's Kafka offsets (the broker
itself refuses that commit if a member joined meanwhile) and as the positions in
PostgreSQL. Writes are idempotent, so reprocessing never changes a row twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)

from consumer.coordinates import TopicPartition
from consumer.ops.connection import operator_connection
from consumer.ops.errors import OperationRefused
from consumer.ops.kafka import (
    admin,
    commit_offsets,
    committed_offsets,
    kafka_tp,
    live_members,
    partitions_of,
    reader,
)
from consumer.positions import load_positions, set_positions
from consumer.settings import Settings
from schemas.topics import Stream


class TargetKind(StrEnum):
    """Where a replay moves each partition."""

    EARLIEST = "earliest"
    """The oldest offset still in the log."""
    LATEST = "latest"
    """The end of the log: skip everything not yet consumed."""
    OFFSET = "offset"
    """One absolute offset, for every selected partition."""
    DATETIME = "datetime"
    """The first record whose timestamp is at or after a time (the end if none is)."""
    SHIFT = "shift"
    """The stored position plus N (negative N goes back N records)."""


@dataclass(frozen=True, slots=True)
class ReplayTarget:
    kind: TargetKind
    offset: int = 0
    """The offset for ``OFFSET``, the amount for ``SHIFT``."""
    at: datetime | None = None
    """The time for ``DATETIME``."""

    def describe(self) -> str:
        if self.kind is TargetKind.DATETIME and self.at is not None:
            return f"first record at or after {self.at.isoformat()}"
        if self.kind is TargetKind.OFFSET:
            return f"offset {self.offset}"
        if self.kind is TargetKind.SHIFT:
            return f"shift by {self.offset:+d}"
        return self.kind.value


@dataclass(frozen=True, slots=True)
class PartitionPlan:
    partition: int
    stored: int | None
    """Next offset stored in PostgreSQL; None when the group never committed here."""
    committed: int | None
    """The group's committed Kafka offset (informational: never read by the consumer)."""
    earliest: int
    latest: int
    target: int

    @property
    def current(self) -> int:
        """Where the consumer would resume now."""
        return resume_offset(self.stored, self.earliest)

    @property
    def to_reprocess(self) -> int:
        """Records between the target and the end of the log."""
        return self.latest - self.target


@dataclass(frozen=True, slots=True)
class ReplayPlan:
    stream: Stream
    topic: str
    group: str
    target: ReplayTarget
    partitions: tuple[PartitionPlan, ...]
    members: tuple[str, ...]
    """Live members of the group when the plan was made (execution refuses if any)."""

    @property
    def to_reprocess(self) -> int:
        return sum(p.to_reprocess for p in self.partitions)

    def targets(self) -> dict[TopicPartition, int]:
        return {TopicPartition(self.topic, p.partition): p.target for p in self.partitions}


GROUP_BUSY = (
    CommitFailedError,
    IllegalGenerationError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)
"""What the broker answers to a commit from outside a group that has members."""


def resume_offset(stored: int | None, earliest: int) -> int:
    """Where a consumer resumes: its stored position, or the log start when none is stored
    (or when retention deleted the stored position)."""
    return earliest if stored is None else max(stored, earliest)


def resolve_target(
    target: ReplayTarget, current: int, earliest: int, latest: int, by_time: int | None
) -> int:
    """The offset a partition moves to, clamped to ``[earliest, latest]`` (pure)."""
    wanted = {
        TargetKind.EARLIEST: earliest,
        TargetKind.LATEST: latest,
        TargetKind.OFFSET: target.offset,
        TargetKind.DATETIME: latest if by_time is None else by_time,
        TargetKind.SHIFT: current + target.offset,
    }[target.kind]
    return min(max(wanted, earliest), latest)


def select_partitions(available: Sequence[int], wanted: Sequence[int] | None) -> list[int]:
    if not wanted:
        return list(available)
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        raise OperationRefused(
            f"no partition {', '.join(map(str, unknown))} in the topic "
            f"(it has {', '.join(map(str, available))})"
        )
    return sorted(set(wanted))


async def _times(
    consumer: AIOKafkaConsumer, tps: Sequence[TopicPartition], target: ReplayTarget
) -> dict[TopicPartition, int | None]:
    if target.kind is not TargetKind.DATETIME or target.at is None:
        return {}
    millis = int(target.at.timestamp() * 1000)
    found = await consumer.offsets_for_times({kafka_tp(tp): millis for tp in tps})
    return {
        TopicPartition(k.topic, k.partition): (None if v is None else v.offset)
        for k, v in found.items()
    }


async def _stored(
    settings: Settings, group: str, tps: Sequence[TopicPartition]
) -> dict[TopicPartition, int]:
    async with operator_connection(settings) as conn:
        return await load_positions(conn, group, tps)


async def plan_replay(
    settings: Settings,
    stream: Stream,
    target: ReplayTarget,
    partitions: Sequence[int] | None = None,
) -> ReplayPlan:
    """Read positions and offsets and compute every selected partition's target."""
    topic, group = settings.topics.source(stream), settings.ingest.group_id(stream)
    chosen = select_partitions(await partitions_of(settings, topic), partitions)
    async with reader(settings) as consumer:
        tps = [TopicPartition(topic, p) for p in chosen]
        earliest = await consumer.beginning_offsets([kafka_tp(tp) for tp in tps])
        latest = await consumer.end_offsets([kafka_tp(tp) for tp in tps])
        by_time = await _times(consumer, tps, target)
    async with admin(settings) as client:
        members = await live_members(client, group)
        committed = await committed_offsets(client, group)
    stored = await _stored(settings, group, tps)
    plans = []
    for tp in tps:
        low, high = earliest[kafka_tp(tp)], latest[kafka_tp(tp)]
        current = resume_offset(stored.get(tp), low)
        goal = resolve_target(target, current, low, high, by_time.get(tp))
        plans.append(
            PartitionPlan(tp.partition, stored.get(tp), committed.get(tp), low, high, goal)
        )
    return ReplayPlan(stream, topic, group, target, tuple(plans), tuple(members))


def refuse_if_live(group: str, members: Sequence[str]) -> None:
    if members:
        raise OperationRefused(
            f"consumer group {group!r} has {len(members)} live member(s) "
            f"({', '.join(members)}): stop its consumers, then replay"
        )


async def execute_replay(settings: Settings, plan: ReplayPlan) -> None:
    """Move the group's Kafka offsets and PostgreSQL positions to the plan's targets."""
    async with admin(settings) as client:
        refuse_if_live(plan.group, await live_members(client, plan.group))
    targets = plan.targets()
    try:
        await commit_offsets(settings, plan.group, targets)
    except GROUP_BUSY as exc:
        raise OperationRefused(
            f"Kafka refused the offsets of group {plan.group!r} ({type(exc).__name__}): "
            "a member may have joined; nothing was moved: stop its consumers, then replay"
        ) from exc
    await _store(settings, plan.group, targets)


async def _store(settings: Settings, group: str, targets: Mapping[TopicPartition, int]) -> None:
    async with operator_connection(settings) as conn, conn.transaction():
        await set_positions(conn, group, targets)
