"""Reading dead-letter topics without joining a consumer group (inspection moves nothing)."""

from __future__ import annotations

import base64
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer

from consumer.coordinates import Record, RecordId, TopicPartition
from consumer.ops.errors import OperationRefused
from consumer.ops.kafka import kafka_tp, partitions_of, reader
from consumer.settings import Settings

FETCH_TIMEOUT_S = 10.0


async def read_record(settings: Settings, record: RecordId) -> Record:
    """The record at ``record``'s coordinates; ``OperationRefused`` when it is not there."""
    await partitions_of(settings, record.topic)
    async with reader(settings) as consumer:
        tp = kafka_tp(record.topic_partition)
        low = (await consumer.beginning_offsets([tp]))[tp]
        high = (await consumer.end_offsets([tp]))[tp]
        if not low <= record.offset < high:
            raise OperationRefused(
                f"no record {record} in Kafka (the partition holds offsets {low} to {high - 1})"
            )
        consumer.assign([tp])
        consumer.seek(tp, record.offset)
        async for found in _records(consumer, {record.topic_partition: high}):
            if found.id.offset == record.offset:
                return found
            if found.id.offset > record.offset:
                break
    raise OperationRefused(f"no record {record} in Kafka (compacted or aborted)")


async def read_topic(settings: Settings, topic: str) -> AsyncGenerator[Record, None]:
    """Every record of ``topic`` present now, partition by partition, oldest first."""
    partitions = await partitions_of(settings, topic)
    async with reader(settings) as consumer:
        tps = [kafka_tp(TopicPartition(topic, p)) for p in partitions]
        ends = await consumer.end_offsets(tps)
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        wanted = {TopicPartition(t.topic, t.partition): ends[t] for t in tps if ends[t] > 0}
        async for record in _records(consumer, wanted):
            yield record


async def _records(
    consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]
) -> AsyncIterator[Record]:
    """Fetch until every partition's position reaches its end offset (or time runs out)."""
    pending = dict(ends)
    deadline = time.monotonic() + FETCH_TIMEOUT_S
    while pending:
        batches: dict[Any, list[Any]] = await consumer.getmany(timeout_ms=500, max_records=500)
        for messages in batches.values():
            for message in messages:
                yield Record.from_kafka(message)
        for tp in list(pending):
            if await consumer.position(kafka_tp(tp)) >= pending[tp]:
                del pending[tp]
        if batches:
            deadline = time.monotonic() + FETCH_TIMEOUT_S
        elif time.monotonic() > deadline:
            names = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in pending)
            raise OperationRefused(f"Kafka returned nothing for {FETCH_TIMEOUT_S:.0f}s: {names}")


def original_id(record: Record) -> RecordId | None:
    """The coordinates a dead letter's ``dlq.original.*`` headers name (None when they are
    missing or malformed): a dead letter published twice names the same ones."""
    headers = dict(record.headers)
    try:
        return RecordId(
            (headers["dlq.original.topic"] or b"").decode(),
            int(headers["dlq.original.partition"] or b""),
            int(headers["dlq.original.offset"] or b""),
        )
    except (KeyError, ValueError):
        return None


def record_to_json(record: Record) -> dict[str, Any]:
    """A record read from a topic as a JSON-ready dict (key, value, headers in base64)."""
    return {
        "dlq_topic": record.id.topic,
        "dlq_partition": record.id.partition,
        "dlq_offset": record.id.offset,
        "timestamp": record.timestamp_ms,
        "key": None if record.key is None else base64.b64encode(record.key).decode(),
        "value": None if record.value is None else base64.b64encode(record.value).decode(),
        "headers": [
            [n, None if v is None else base64.b64encode(v).decode()] for n, v in record.headers
        ],
    }
