"""The consume loop of one pipeline member.

Each turn: position the partitions waiting for it, pick the lane to gather for, gather
its batch, decode it, and hand it to the lane, which applies it (reduce, write,
dead-letter, store the position: ``transaction.apply_batch``) and mirrors the positions
to Kafka. Everything it needs is wired here; each stage lives in a module of its own.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaTopicPartition

from consumer.batching import BatchLimits
from consumer.coordinates import TopicPartition
from consumer.deadletters import DeadLetterPublisher
from consumer.decoding import decode_batch_yielding
from consumer.engine import records
from consumer.engine.audit import PositionAudit
from consumer.engine.fetcher import FETCH_MAX_WAIT_MS, MAX_PARTITION_FETCH_BYTES, Fetcher
from consumer.engine.lane_pool import LanePool
from consumer.engine.partitions import PartitionTable, Rebalance
from consumer.engine.parts import EngineParts
from consumer.engine.seeking import Seeker
from consumer.engine.status import PipelineStatus
from consumer.engine.writing import LaneWriter
from consumer.pipelines import Pipeline
from consumer.settings import Settings
from consumer.telemetry import Telemetry
from consumer.topics_admin import start_or_close

log = logging.getLogger("utxoiq.consumer")


class PipelineRunner:
    """Runs one pipeline's consumer until ``stop`` is set."""

    def __init__(
        self,
        pipeline: Pipeline,
        settings: Settings,
        pool: asyncpg.Pool,
        publisher: DeadLetterPublisher,
        telemetry: Telemetry,
    ) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.pool = pool
        ingest = settings.ingest
        self.limits = BatchLimits(
            ingest.batch_max_records, ingest.batch_max_bytes, ingest.batch_max_age_ms / 1000
        )
        parts = self._parts = EngineParts(pipeline, ingest, pool, telemetry)
        self._log = parts.log
        self._pulse = parts.pulse
        self._table = table = parts.table
        self._mirror = parts.mirror
        self._lanes = LanePool(ingest.write_lanes, table, parts.pulse)
        self._fetcher = Fetcher(table, self.limits, ingest.write_lanes)
        self._writer = LaneWriter(pipeline, ingest, pool, publisher, parts)
        self._seeker = Seeker(parts, pool, pipeline.group, pipeline.topic, ingest.async_commit)
        self._audit = PositionAudit(table, pool, pipeline.group, parts.log)

    @property
    def settled(self) -> asyncio.Event:
        """Set once the member has joined its group and sought every partition it was
        given (maybe none) to its stored position."""
        return self._table.settled

    def status(self) -> PipelineStatus:
        """The member's status now."""
        table, consumer = self._table, self._table.consumer
        return PipelineStatus(
            pipeline=self.pipeline.name,
            topic=self.pipeline.topic,
            started=consumer is not None,
            assigned=_numbers(consumer.assignment()) if consumer else frozenset(),
            positions={tp.partition: position for tp, position in table.positions.items()},
            unpositioned=_numbers(table.unpositioned),
            paused=_numbers(consumer.paused()) if consumer else frozenset(),
            breaker_open=self._parts.breaker.open,
            heartbeat=self._pulse.heartbeat,
            last_progress=self._pulse.progress,
            highwater=_highwater(consumer, table),
        )

    def make_consumer(self) -> AIOKafkaConsumer:
        ingest = self.settings.ingest
        records.install()
        return AIOKafkaConsumer(
            group_id=self.pipeline.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self.limits.max_records,
            session_timeout_ms=ingest.session_timeout_ms,
            heartbeat_interval_ms=max(ingest.session_timeout_ms // 10, 1000),
            max_poll_interval_ms=ingest.max_poll_interval_ms,
            rebalance_timeout_ms=ingest.max_poll_interval_ms,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            max_partition_fetch_bytes=MAX_PARTITION_FETCH_BYTES,
            check_crcs=ingest.check_crcs,
            **self.settings.kafka.client_options(),
        )

    async def run(self, stop: asyncio.Event) -> None:
        consumer = self._table.consumer = self.make_consumer()
        consumer.subscribe(
            [self.pipeline.topic], listener=Rebalance(self.release, self._table.take)
        )
        await start_or_close(consumer)
        log.info("pipeline started", extra=self._log)
        try:
            await self._turns(consumer, stop)
            await self._lanes.wait_for_all()
        finally:
            await self._lanes.cancel_all()
            await self._mirror.flush()
            await self._parts.breaker.stopped()
            await consumer.stop()
            self._table.consumer = None
            log.info("pipeline stopped", extra=self._log)

    async def _turns(self, consumer: AIOKafkaConsumer, stop: asyncio.Event) -> None:
        """Position, pick a lane, gather, decode, hand over; until ``stop``."""
        lanes, table, lane = self._lanes, self._table, 0
        while not stop.is_set():
            self._pulse.beat()
            lanes.reap_finished()
            if table.unpositioned:
                await lanes.wait_for_all()
                await self._seeker.seek(stop, self._pulse)
                continue
            lane = await lanes.next_lane(lane, stop)
            if stop.is_set():
                break
            batch = await self._fetcher.gather(consumer, stop, lane)
            if batch is None:
                continue
            if not batch:
                await self._audit_when_idle()
                continue
            ingest = self.settings.ingest
            work = await decode_batch_yielding(batch, self.pipeline.accepts, ingest.max_event_bytes)
            await lanes.wait_for([lane])
            if stop.is_set():
                break
            lanes.start(lane, self._writer.write(work, stop))

    async def _audit_when_idle(self) -> None:
        """Check the stored positions, when commits may be lost and no lane writes."""
        if self.settings.ingest.async_commit and not self._lanes:
            await self._audit.run()

    async def release(self, revoked: set[KafkaTopicPartition]) -> None:
        """Let the batches being written finish (or abandon their retries), then forget
        the revoked partitions. No batch starts until they are forgotten, so none can
        apply records of a revoked partition."""
        self._table.generation += 1
        async with self._parts.gate.closed():
            await self._mirror.flush()  # the revoked partitions' last positions, while owned
        for tp in self._table.forget(revoked):
            self._mirror.forget(tp)


def _highwater(consumer: AIOKafkaConsumer | None, table: PartitionTable) -> dict[int, int]:
    """The high watermark of each positioned partition the client knows it for."""
    if consumer is None:
        return {}
    highs = {}
    for tp in table.positions:
        high = consumer.highwater(KafkaTopicPartition(tp.topic, tp.partition))
        if high is not None:
            highs[tp.partition] = high
    return highs


def _numbers(partitions: Iterable[KafkaTopicPartition | TopicPartition]) -> frozenset[int]:
    return frozenset(tp.partition for tp in partitions)
