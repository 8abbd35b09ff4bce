"""Mirroring the stored positions into Kafka's committed offsets, off the write path.

PostgreSQL holds the positions that count; Kafka's committed offsets are a copy for lag
tools and are never read back. So no lane waits for the broker's acknowledgement (a few
milliseconds, and tens under load, that used to keep a lane busy after every batch):
positions are handed over and committed in the background, the newest per partition
replacing any not yet sent, one commit in flight at a time.

Committing at most once a second, rather than as soon as the last commit is
acknowledged, was measured and left out: at half the drain rate the consumer's CPU per
event, over its drain's in the same run, was no lower with it (metrics 1.42 and 1.48
against 1.27 and 1.44 without, feedback 1.44 against 1.28; ``utxoiq bench --repeat 3``,
interleaved).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.errors import KafkaError

from consumer.coordinates import TopicPartition

log = logging.getLogger("utxoiq.consumer")

COMMIT_TIMEOUT_S = 10.0
"""aiokafka retries a commit without end; past this the mirror gives up on that one."""


class OffsetMirror:
    """Commits the latest positions handed to it, in the background, one at a time."""

    def __init__(
        self, consumer: Callable[[], AIOKafkaConsumer | None], log_extra: Mapping[str, Any]
    ) -> None:
        self._consumer = consumer
        self._log = dict(log_extra)
        self._pending: dict[TopicPartition, int] = {}
        self._task: asyncio.Task[None] | None = None

    def submit(self, positions: Mapping[TopicPartition, int | None]) -> None:
        """Queue ``positions`` (next offset per partition; None: nothing stored yet) to
        be committed soon."""
        known = {tp: position for tp, position in positions.items() if position is not None}
        if not known:
            return
        self._pending.update(known)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._commit_pending())

    async def _commit_pending(self) -> None:
        while self._pending:
            offsets, self._pending = self._pending, {}
            consumer = self._consumer()
            if consumer is None:
                return
            assignment = consumer.assignment()
            owned = {
                ktp: offset
                for tp, offset in offsets.items()
                if (ktp := KafkaTopicPartition(tp.topic, tp.partition)) in assignment
            }
            if not owned:
                continue
            try:
                await asyncio.wait_for(consumer.commit(owned), COMMIT_TIMEOUT_S)
            except (KafkaError, TimeoutError) as exc:
                log.warning(
                    "kafka offset commit failed (positions are safe in PostgreSQL)",
                    extra={**self._log, "error": str(exc)},
                )
            except Exception:  # a copy for lag tools: never let it end the mirror unseen
                log.exception("kafka offset commit failed unexpectedly", extra=self._log)

    def forget(self, partition: TopicPartition) -> None:
        """Drop what is pending for a partition this member no longer holds, so an old
        position is never committed over a newer owner's."""
        self._pending.pop(partition, None)

    async def flush(self) -> None:
        """Wait until what was handed over is committed (each commit is bounded). If the
        caller is cancelled meanwhile, the mirror is cancelled with it."""
        task = self._task
        while task is not None and not task.done():
            try:
                await asyncio.wait({task})
            except asyncio.CancelledError:
                task.cancel()
                raise
            task = self._task
