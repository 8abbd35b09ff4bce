"""Status: each pipeline's consumer group and partitions, as Kafka and PostgreSQL see them.

A snapshot reads, per pipeline, the group's state and members (with the partitions each
one holds) and, per partition, the position stored in PostgreSQL (where the consumers
resume), the group's committed Kafka offset (a copy made after each database commit),
the log's start and end, the age of the last stored commit and the dead letters still
pending. It joins no consumer group and writes nothing, so it runs beside the
consumers.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from consumer.coordinates import TopicPartition
from consumer.db.pool import create_pool
from consumer.ops.kafka import admin, committed_offsets, kafka_tp, reader
from consumer.ops.replay import resume_offset
from consumer.settings import Settings
from consumer.vocabulary import DeadLetterStatus
from schemas.topics import Stream

NO_GROUP = "Dead"
"""The state Kafka reports for a group it does not know (never joined, or expired)."""

STORED = """
SELECT partition, next_offset, now() - updated_at AS age FROM ingest_offsets
WHERE group_id = $1 AND topic = $2
"""

PENDING = f"""
SELECT partition, count(*) AS pending FROM dead_letters
WHERE topic = $1 AND status = '{DeadLetterStatus.PENDING}' GROUP BY partition
"""


@dataclass(frozen=True, slots=True)
class Member:
    """One consumer in a group: who it is and which partitions of the topic it holds."""

    client_id: str
    host: str
    partitions: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class PartitionStatus:
    partition: int
    stored: int | None
    """Next offset stored in PostgreSQL; None when the group never committed here."""
    committed: int | None
    """The group's committed Kafka offset; None when it has none."""
    log_start: int
    log_end: int
    commit_age: timedelta | None
    """Time since the stored position last moved (PostgreSQL's clock)."""
    pending_dead_letters: int

    @property
    def lag(self) -> int:
        """Records between where the group resumes and the end of the log."""
        return max(self.log_end - resume_offset(self.stored, self.log_start), 0)


@dataclass(frozen=True, slots=True)
class PipelineOverview:
    """A pipeline as `utxoiq status` shows it, read from Kafka and PostgreSQL from outside
    (the running member's own snapshot is ``consumer.engine.PipelineStatus``)."""

    stream: Stream
    topic: str
    group: str
    state: str
    """Kafka's group state: Stable, PreparingRebalance, CompletingRebalance, Empty, Dead."""
    members: tuple[Member, ...]
    partitions: tuple[PartitionStatus, ...]
    """Empty when the topic does not exist."""

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    @property
    def pending_dead_letters(self) -> int:
        return sum(p.pending_dead_letters for p in self.partitions)


@dataclass(frozen=True, slots=True)
class StatusReport:
    taken_at: datetime
    pipelines: tuple[PipelineOverview, ...]


def assigned_partitions(assignment: bytes, topic: str) -> tuple[int, ...]:
    """The partitions of ``topic`` in a member's encoded assignment (pure)."""
    if not assignment:
        return ()
    decoded = ConsumerProtocolMemberAssignment.decode(assignment)
    return tuple(sorted(p for t, parts in decoded.assignment if t == topic for p in parts))


def parse_group(entry: Sequence[object], topic: str) -> tuple[str, tuple[Member, ...]]:
    """State and members from a DescribeGroups response entry (pure).

    The entry is ``(error_code, group, state, protocol_type, protocol, members, ...)``,
    each member ``(member_id, client_id, client_host, metadata, assignment)``.
    """
    state, raw_members = str(entry[2]), entry[5]
    assert isinstance(raw_members, list)
    members = tuple(
        sorted(
            (
                Member(str(m[1]), str(m[2]).lstrip("/"), assigned_partitions(m[4], topic))
                for m in raw_members
            ),
            key=lambda m: (m.partitions, m.client_id, m.host),
        )
    )
    return state or NO_GROUP, members


class StatusReader:
    """Open Kafka and PostgreSQL clients that take snapshots (see ``status_reader``)."""

    def __init__(
        self,
        settings: Settings,
        kafka_admin: AIOKafkaAdminClient,
        offsets: AIOKafkaConsumer,
        pool: asyncpg.Pool,
    ) -> None:
        self.settings = settings
        self.admin = kafka_admin
        self.offsets = offsets
        self.pool = pool

    async def snapshot(self, streams: Sequence[Stream], now: datetime) -> StatusReport:
        return StatusReport(now, tuple([await self.pipeline(stream) for stream in streams]))

    async def pipeline(self, stream: Stream) -> PipelineOverview:
        topic = self.settings.topics.source(stream)
        group = self.settings.ingest.group_id(stream)
        state, members = await self._group(group, topic)
        numbers = await self._partitions(topic)
        if not numbers:
            return PipelineOverview(stream, topic, group, state, members, ())
        tps = [TopicPartition(topic, n) for n in numbers]
        starts = await self.offsets.beginning_offsets([kafka_tp(tp) for tp in tps])
        ends = await self.offsets.end_offsets([kafka_tp(tp) for tp in tps])
        committed = await committed_offsets(self.admin, group)
        stored, pending = await self._database(group, topic)
        partitions = tuple(
            PartitionStatus(
                tp.partition,
                stored[tp.partition][0] if tp.partition in stored else None,
                committed.get(tp),
                starts[kafka_tp(tp)],
                ends[kafka_tp(tp)],
                stored[tp.partition][1] if tp.partition in stored else None,
                pending.get(tp.partition, 0),
            )
            for tp in tps
        )
        return PipelineOverview(stream, topic, group, state, members, partitions)

    async def _group(self, group: str, topic: str) -> tuple[str, tuple[Member, ...]]:
        for response in await self.admin.describe_consumer_groups([group]):
            for entry in response.groups:
                return parse_group(entry, topic)
        return NO_GROUP, ()

    async def _partitions(self, topic: str) -> list[int]:
        described = await self.admin.describe_topics([topic])
        return sorted(
            p["partition"] for t in described if not t["error_code"] for p in t["partitions"]
        )

    async def _database(
        self, group: str, topic: str
    ) -> tuple[dict[int, tuple[int, timedelta]], dict[int, int]]:
        async with self.pool.acquire() as conn:
            stored = await conn.fetch(STORED, group, topic)
            pending = await conn.fetch(PENDING, topic)
        return (
            {r["partition"]: (r["next_offset"], r["age"]) for r in stored},
            {r["partition"]: r["pending"] for r in pending},
        )


@contextlib.asynccontextmanager
async def status_reader(settings: Settings) -> AsyncIterator[StatusReader]:
    """Clients for as many snapshots as wanted: an admin client and a consumer without a
    group for Kafka, one connection for PostgreSQL."""
    pool = await create_pool(settings.database, max_size=1)
    try:
        async with admin(settings) as kafka_admin, reader(settings) as offsets:
            yield StatusReader(settings, kafka_admin, offsets, pool)
    finally:
        await pool.close()
