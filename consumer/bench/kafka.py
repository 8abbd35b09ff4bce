"""Kafka for the benchmark: fresh topics, fast keyed publishing, end offsets, fetch-only.

Publishing goes through aiokafka's batch API (one builder per partition, partitions
chosen by the Java client's murmur2 of the key), so the producer is not the bottleneck
of the paced load and each event's offset is known from its batch's base offset.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.partitioner import DefaultPartitioner

from consumer.bench.stats import SentSpan
from consumer.bench.workload import KeyValue
from consumer.ops.errors import OperationRefused
from consumer.ops.kafka import partitions_of
from consumer.pipelines import Pipeline
from consumer.settings import Settings
from consumer.topics_admin import ensure_topics, start_or_close

MAX_BATCH_BYTES = 512 * 1024
FETCH_STALL_S = 60.0
TOPIC_READY_S = 30.0


class FetchStalled(Exception):
    """The fetch-only reader stopped receiving records before the end offsets."""


async def create_topics(settings: Settings, pipeline: Pipeline) -> int:
    """Create the pipeline's source and DLQ topics as the service would; their partitions.

    A topic just created can be described without its partitions for a moment, until the
    broker's metadata catches up, so this waits (with a deadline) until they are visible.
    """
    await ensure_topics(settings, [pipeline])
    deadline = time.monotonic() + TOPIC_READY_S
    while True:
        try:
            return len(await partitions_of(settings, pipeline.topic))
        except OperationRefused:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.2)


async def delete_topics(settings: Settings, topics: Sequence[str]) -> None:
    """Delete the run's topics (best effort: a failure leaves them for the broker's retention)."""
    admin = AIOKafkaAdminClient(**settings.kafka.client_options())
    with contextlib.suppress(KafkaError, OSError):
        await start_or_close(admin)
        try:
            await admin.delete_topics(list(topics))
        finally:
            await admin.close()


@contextlib.asynccontextmanager
async def producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    client = AIOKafkaProducer(
        acks="all",
        linger_ms=5,
        max_batch_size=MAX_BATCH_BYTES,
        **settings.kafka.client_options(),
    )
    await start_or_close(client)
    try:
        yield client
    finally:
        await client.stop()


@dataclass(slots=True)
class Pending:
    """Batches handed to the producer, not yet acknowledged."""

    parts: list[tuple[int, int, asyncio.Future[Any]]]
    event_time: float

    async def spans(self) -> list[SentSpan]:
        acks = await asyncio.gather(*(future for _, _, future in self.parts))
        return [
            SentSpan(partition, ack.offset, count, self.event_time)
            for (partition, count, _), ack in zip(self.parts, acks, strict=True)
        ]


class Sender:
    """Sends keyed events to one topic, the key choosing the partition."""

    def __init__(self, client: AIOKafkaProducer, topic: str, partitions: int) -> None:
        self.client = client
        self.topic = topic
        self.partitions = list(range(partitions))
        self._partitioner = DefaultPartitioner()
        self._cache: dict[bytes, int] = {}

    def partition_of(self, key: bytes) -> int:
        partition = self._cache.get(key)
        if partition is None:
            partition = self._partitioner(key, self.partitions, self.partitions)
            if len(self._cache) < 1_000_000:
                self._cache[key] = partition
        return partition

    async def send(self, events: Sequence[KeyValue], event_time: float) -> Pending:
        """Queue ``events`` (in order per partition); await ``spans()`` for the offsets."""
        by_partition: dict[int, list[KeyValue]] = {}
        for key, value in events:
            by_partition.setdefault(self.partition_of(key), []).append((key, value))
        return await self.send_partitioned(by_partition, event_time)

    async def send_partitioned(
        self, by_partition: dict[int, list[KeyValue]], event_time: float
    ) -> Pending:
        """Queue events already split by partition, each partition's in batches."""
        parts = []
        for partition, items in by_partition.items():
            for count, batch in self._batches(items):
                future = await self.client.send_batch(batch, self.topic, partition=partition)
                parts.append((partition, count, future))
        return Pending(parts, event_time)

    def _batches(self, items: list[KeyValue]) -> list[tuple[int, Any]]:
        batches = []
        batch, count = self.client.create_batch(), 0
        for key, value in items:
            if batch.append(key=key, value=value, timestamp=None) is None:
                batches.append((count, batch))
                batch, count = self.client.create_batch(), 0
                batch.append(key=key, value=value, timestamp=None)
            count += 1
        batches.append((count, batch))
        return batches


async def end_offsets(settings: Settings, topic: str, partitions: int) -> dict[int, int]:
    client = AIOKafkaConsumer(enable_auto_commit=False, **settings.kafka.client_options())
    await start_or_close(client)
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        ends = await client.end_offsets(tps)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await client.stop()


def fetch_consumer(settings: Settings) -> AIOKafkaConsumer:
    """A consumer with the pipeline consumer's fetch settings, outside any group."""
    return AIOKafkaConsumer(
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_poll_records=settings.ingest.batch_max_records,
        **settings.kafka.client_options(),
    )


async def fetch_only(
    settings: Settings, topic: str, ends: dict[int, int]
) -> tuple[int, float, float]:
    """Read the topic from the start to ``ends`` without decoding or writing.

    Returns (records, seconds from the first fetch to the last, CPU seconds of this process).
    """
    client = fetch_consumer(settings)
    await start_or_close(client)
    try:
        tps = [TopicPartition(topic, p) for p in ends]
        client.assign(tps)
        await client.seek_to_beginning(*tps)
        total, count = sum(ends.values()), 0
        cpu, started = time.process_time(), time.perf_counter()
        moved_at = started
        while count < total:
            fetched = await client.getmany(
                timeout_ms=1000, max_records=settings.ingest.batch_max_records
            )
            got = sum(len(records) for records in fetched.values())
            count, now = count + got, time.perf_counter()
            moved_at = now if got else moved_at
            if now - moved_at > FETCH_STALL_S:
                raise FetchStalled(f"fetch-only read {count} of {total} records of {topic}")
        return count, time.perf_counter() - started, time.process_time() - cpu
    finally:
        await client.stop()
