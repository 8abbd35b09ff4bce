"""Seeking partitions to their stored positions, the retention-loss alarm, and the
audit of the positions this member holds against the stored ones.

Every await may let a rebalance run; a seek started in one generation of the
partition table stops when it finds another, and the loop starts again from the new
assignment.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

import asyncpg
from aiokafka import TopicPartition as KafkaTopicPartition

from consumer.coordinates import TopicPartition
from consumer.engine.parts import EngineParts
from consumer.engine.status import Pulse
from consumer.errors import DeploymentError, PositionConflict, classify
from consumer.grants import explain_denied
from consumer.positions import advance_positions, load_positions
from consumer.retention import RetentionLoss, log_starts, retention_losses
from consumer.transaction import wait_for_flush

log = logging.getLogger("utxoiq.consumer")


class Seeker:
    """Positions the table's unpositioned partitions from PostgreSQL."""

    def __init__(
        self, parts: EngineParts, pool: asyncpg.Pool, group: str, topic: str, async_commit: bool
    ) -> None:
        self._table = parts.table
        self._pool = pool
        self._group = group
        self._topic = topic
        self._async_commit = async_commit
        self._mirror = parts.mirror
        self._retries = parts.retries
        self._telemetry = parts.telemetry
        self._log = dict(parts.log)

    async def seek(self, stop: asyncio.Event, pulse: Pulse) -> None:
        """Seek the unpositioned partitions to their stored positions (or the log start
        for those never stored, or lost to retention) and resume them."""
        table = self._table
        wanted = set(table.unpositioned)
        generation = table.generation
        stored = await self._read_stored(wanted, stop, pulse)
        if stored is None or generation != table.generation:
            return  # not read (retried next turn), or a rebalance ran meanwhile
        if not await self._apply_retention(stored, generation):
            return
        if not await self._seek_never_stored(wanted, stored, generation):
            return
        self._position(wanted, stored)

    async def _read_stored(
        self, wanted: set[TopicPartition], stop: asyncio.Event, pulse: Pulse
    ) -> dict[TopicPartition, int] | None:
        """The stored positions (and the dead-letter marks) of ``wanted``; None after a
        transient failure, once the member has waited a backoff with every partition
        paused. A deployment error stops the pipeline."""
        try:
            async with self._pool.acquire() as conn:
                stored = await load_positions(conn, self._group, wanted)
                await self._table.marks.load(conn, self._topic, wanted)
        except Exception as exc:
            error = classify(exc)
            if isinstance(error, DeploymentError):
                raise await explain_denied(self._pool, error) from exc
            self._retries.count(error)
            log.warning("cannot read stored positions", extra={**self._log, "error": str(error)})
            end = time.monotonic() + self._retries.delay(1)
            await self._table.poll_paused_while(lambda: not stop.is_set(), pulse, end)
            return None
        return stored

    async def _apply_retention(self, stored: dict[TopicPartition, int], generation: int) -> bool:
        """Move the stored positions below the log start up to it, raising the alarm;
        False when a rebalance ran meanwhile."""
        table = self._table
        assert table.consumer is not None
        mine = {tp: p for tp, p in stored.items() if tp in table.unpositioned}
        starts = await log_starts(table.consumer, list(mine), self._log)
        if generation != table.generation:
            return False
        losses = retention_losses(mine, starts)
        if not losses:
            return True
        recorded = await self._record_losses(losses)
        stored.update({loss.partition: loss.log_start for loss in recorded})
        return generation == table.generation

    async def _seek_never_stored(
        self, wanted: set[TopicPartition], stored: Mapping[TopicPartition, int], generation: int
    ) -> bool:
        """Seek the partitions with no stored position to the log start; False when a
        rebalance ran meanwhile (its partitions are sought next time)."""
        table = self._table
        assert table.consumer is not None
        assignment = table.consumer.assignment()
        never = [
            ktp
            for tp in wanted
            if tp not in stored
            and tp in table.unpositioned
            and (ktp := KafkaTopicPartition(tp.topic, tp.partition)) in assignment
        ]
        if not never:
            return True
        await table.consumer.seek_to_beginning(*never)
        return generation == table.generation

    def _position(self, wanted: set[TopicPartition], stored: Mapping[TopicPartition, int]) -> None:
        """Seek and resume (nothing awaits here, so no rebalance changes the assignment)."""
        table = self._table
        consumer = table.consumer
        assert consumer is not None
        assignment = consumer.assignment()
        sought: dict[TopicPartition, int] = {}
        for tp in wanted:
            ktp = KafkaTopicPartition(tp.topic, tp.partition)
            if ktp not in assignment:
                table.unpositioned.discard(tp)
                continue
            if tp not in table.unpositioned:
                continue
            if tp in stored:
                consumer.seek(ktp, stored[tp])
                sought[tp] = stored[tp]
            table.positions[tp] = stored.get(tp)
            table.unpositioned.discard(tp)
        table.resume_positioned()  # also what a failed read paused
        self._mirror.submit(sought)
        if not table.unpositioned:
            table.settled.set()
        log.info(
            "resuming from stored positions",
            extra={**self._log, "positions": {f"{t.partition}": p for t, p in stored.items()}},
        )

    async def _record_losses(self, losses: list[RetentionLoss]) -> list[RetentionLoss]:
        """Raise the alarm for records Kafka deleted below the stored positions, and move
        those positions to the log start by compare-and-set, so the loss is reported once
        (by whichever member records it) instead of at every assignment. The losses
        recorded; one not recorded (another member moved the position first, or the
        database is unreachable) leaves its position as it was."""
        recorded = []
        for loss in losses:
            outcome = await self._record_loss(loss)
            if outcome is None:
                continue  # another member got there first, and reported it
            if outcome:
                recorded.append(loss)
            self._telemetry.lost_to_retention.labels(self._table.pipeline).inc(loss.records)
            log.error(
                "ALARM records removed by Kafka retention before they were consumed",
                extra={
                    **self._log,
                    "partition": loss.partition.partition,
                    "stored_position": loss.stored,
                    "log_start": loss.log_start,
                    "records": loss.records,
                },
            )
        return recorded

    async def _record_loss(self, loss: RetentionLoss) -> bool | None:
        """Move one position to the log start: True when moved, False when it could not
        be (the loss is reported again next time), None when another member moved it."""
        tp = loss.partition
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await advance_positions(conn, self._group, {tp: loss.stored}, {tp: loss.log_start})
                # a lost move would report the loss twice
                await wait_for_flush(conn, self._async_commit)
        except PositionConflict:
            return None
        except Exception as exc:
            log.warning(
                "cannot record the retention loss; it is reported again next time",
                extra={**self._log, "partition": tp.partition, "error": str(exc)},
            )
            return False
        return True
