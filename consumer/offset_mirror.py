"""Mirroring the stored positions into Kafka's committed offsets, off the write path.

PostgreSQL holds the positions that count; Kafka's committed offsets are a copy for lag
tools and are never read back. So no lane waits for the broker's acknowledgement (a few
milliseconds, and tens under load, that used to keep a lane busy after every batch):
positions are handed over and committed in the background, the newest per partition
replacing any not yet sent, one commit in flight at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.errors import KafkaError

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
        self._pending: dict[KafkaTopicPartition, int] = {}
        self._task: asyncio.Task[None] | None = None

    def submit(self, offsets: Mapping[KafkaTopicPartition, int]) -> None:
        """Queue ``offsets`` (next offset per partition) to be committed soon."""
        if not offsets:
            return
        self._pending.update(offsets)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._commit_pending())

    async def _commit_pending(self) -> None:
        while self._pending:
            offsets, self._pending = self._pending, {}
            consumer = self._consumer()
            if consumer is None:
                return
            assignment = consumer.assignment()
            owned = {tp: offset for tp, offset in offsets.items() if tp in assignment}
            if not owned:
                continue
            try:
                await asyncio.wait_for(consumer.commit(owned), COMMIT_TIMEOUT_S)
            except (KafkaError, TimeoutError) as exc:
                log.warning(
                    "kafka offset commit failed (positions are safe in PostgreSQL)",
                    extra={**self._log, "error": str(exc)},
                )

    async def flush(self) -> None:
        """Wait for what was handed over to be committed (each commit is bounded)."""
        while self._task is not None and not self._task.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(self._task)
