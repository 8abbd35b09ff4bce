"""The partition table of one pipeline member: which partitions it holds, which are
positioned (sought to their stored positions, and from where), which wait to be.

Positions come from PostgreSQL: a partition is paused when assigned and resumed once
sought to its stored position (``consumer.engine.seeking``). Records fetched for a
partition are good only while it stays positioned, so whatever unpositions it (a
revocation, a new assignment, a position found to have moved) also drops what was
carried for it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka import TopicPartition as KafkaTopicPartition

from consumer.coordinates import TopicPartition
from consumer.engine.carry import Carry
from consumer.engine.lanes import lane_of
from consumer.engine.status import Pulse
from consumer.redelivery import DeadLetterMarks
from consumer.telemetry import Telemetry

log = logging.getLogger("utxoiq.consumer")

PAUSED_POLL_MS = 500
"""How long one poll waits while every partition is paused: polls only keep the member
in its group then, so they need not come often."""


class PartitionTable:
    """Assigned, positioned and unpositioned partitions, and their pausing."""

    def __init__(
        self,
        pipeline: str,
        telemetry: Telemetry,
        carry: Carry,
        marks: DeadLetterMarks,
        log_extra: Mapping[str, Any],
    ) -> None:
        self.pipeline = pipeline
        self.consumer: AIOKafkaConsumer | None = None
        self.positions: dict[TopicPartition, int | None] = {}
        """The positioned partitions: the next offset to apply (None: nothing stored)."""
        self.unpositioned: set[TopicPartition] = set()
        self.generation = 0
        """Counts rebalances, so a seek started before one knows to start again."""
        self.settled = asyncio.Event()
        """Set once the member has joined its group and sought every partition it was
        given (maybe none) to its stored position."""
        self.carry = carry
        self.marks = marks
        self._telemetry = telemetry
        self._log = dict(log_extra)

    def owned(self) -> dict[TopicPartition, int | None]:
        """The positioned partitions still held, with their positions."""
        return {tp: p for tp, p in self.positions.items() if tp not in self.unpositioned}

    def partitions_of(self, lane: int, lanes: int) -> list[KafkaTopicPartition] | None:
        """The positioned partitions of a lane to fetch for; [] for all of them (a single
        lane, or none positioned yet, so the loop still polls); None when the lane has
        none while others do."""
        if lanes == 1 or not self.positions:
            return []
        mine = [
            KafkaTopicPartition(tp.topic, tp.partition)
            for tp in self.positions
            if lane_of(tp.partition, lanes) == lane
        ]
        return mine or None

    def take(self, assigned: set[KafkaTopicPartition]) -> None:
        """Pause new partitions until they are sought to their stored positions."""
        self.generation += 1
        if self.consumer is not None and assigned:
            self.consumer.pause(*assigned)
        for ktp in assigned:
            tp = TopicPartition(ktp.topic, ktp.partition)
            self.unpositioned.add(tp)
            self.carry.drop(tp)
        self._telemetry.rebalances.labels(self.pipeline, "assigned").inc()
        self._telemetry.assigned.labels(self.pipeline).set(len(assigned))
        if assigned:
            log.info("partitions assigned", extra={**self._log, "partitions": _names(assigned)})
        else:
            self.settled.set()

    def forget(self, revoked: set[KafkaTopicPartition]) -> list[TopicPartition]:
        """Forget revoked partitions: positions, carried records, dead-letter marks. The
        partitions forgotten."""
        forgotten = [TopicPartition(ktp.topic, ktp.partition) for ktp in revoked]
        for tp in forgotten:
            self.positions.pop(tp, None)
            self.unpositioned.discard(tp)
            self.carry.drop(tp)
            self.marks.forget(tp)
        self._telemetry.rebalances.labels(self.pipeline, "revoked").inc()
        self._telemetry.assigned.labels(self.pipeline).set(len(self.positions))
        if revoked:
            log.info("partitions revoked", extra={**self._log, "partitions": _names(revoked)})
        return forgotten

    def advance(self, next_positions: Mapping[TopicPartition, int]) -> None:
        """Positions after a committed batch (never backwards)."""
        for tp, position in next_positions.items():
            self.positions[tp] = max(self.positions.get(tp) or 0, position)

    def reposition_all(self) -> None:
        """Forget fetch positions: every partition is sought again from PostgreSQL."""
        self.unpositioned.update(self.positions)
        self.positions.clear()
        self.carry.clear()
        consumer = self.consumer
        if consumer is not None and consumer.assignment():
            consumer.pause(*consumer.assignment())

    def pause_all(self) -> None:
        consumer = self.consumer
        assert consumer is not None
        assignment = consumer.assignment()
        if assignment:
            consumer.pause(*assignment)
        self._telemetry.paused.labels(self.pipeline).set(len(assignment))

    def resume_positioned(self) -> None:
        consumer = self.consumer
        if consumer is None:
            return
        assignment = consumer.assignment()
        resumable = [
            ktp
            for tp in self.owned()
            if (ktp := KafkaTopicPartition(tp.topic, tp.partition)) in assignment
        ]
        if resumable:
            consumer.resume(*resumable)
        self._telemetry.paused.labels(self.pipeline).set(len(assignment) - len(resumable))

    async def poll_paused_while(
        self, waiting: Callable[[], bool], pulse: Pulse, deadline: float | None = None
    ) -> None:
        """Poll Kafka with every partition paused while ``waiting()`` (and, given a
        deadline, until it), so the group keeps the member; paused partitions return no
        records, so nothing is fetched that would have to be dropped."""
        consumer = self.consumer
        assert consumer is not None
        self.pause_all()
        while waiting():
            wait_s = PAUSED_POLL_MS / 1000
            if deadline is not None:
                wait_s = min(wait_s, deadline - time.monotonic())
                if wait_s <= 0:
                    return
            pulse.beat()
            await consumer.getmany(timeout_ms=int(wait_s * 1000))


class Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    """Hands the group's rebalance callbacks to the engine."""

    def __init__(
        self,
        release: Callable[[set[KafkaTopicPartition]], Any],
        take: Callable[[set[KafkaTopicPartition]], None],
    ) -> None:
        self._release = release
        self._take = take

    async def on_partitions_revoked(self, revoked: set[KafkaTopicPartition]) -> None:
        await self._release(revoked)

    async def on_partitions_assigned(self, assigned: set[KafkaTopicPartition]) -> None:
        self._take(assigned)


def _names(partitions: set[KafkaTopicPartition]) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)
