"""The dead-letter stage: publish the original record with its reason, then record it.

Headers are part of the contract (ARCHITECTURE.md): the original key, value and headers
are kept byte for byte and ``dlq.*`` headers are added. A record already carrying
``dlq.*`` headers (one redriven to its source topic) has them replaced, except that its
``dlq.redrive.count`` is kept.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence
from datetime import UTC, datetime

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.errors import TopicAuthorizationFailedError

from consumer.coordinates import Headers
from consumer.errors import BrokerUnavailable, DeploymentError, classify, one_line
from consumer.outcomes import DeadLetter

HEADER_PREFIX = "dlq."
REDRIVE_COUNT = "dlq.redrive.count"


def redrive_count(headers: Headers) -> int:
    for name, value in headers:
        if name == REDRIVE_COUNT:
            try:
                return int((value or b"").decode())
            except (UnicodeDecodeError, ValueError):
                return 0
    return 0


def dead_letter_headers(
    dead: DeadLetter, group: str, failed_at: datetime
) -> list[tuple[str, bytes | None]]:
    """The original headers (less any old ``dlq.*``; a null value kept null) plus the
    contract's ``dlq.*`` headers."""
    record = dead.record
    kept = [(name, value) for name, value in record.headers if not name.startswith(HEADER_PREFIX)]
    added = {
        "dlq.original.topic": record.id.topic,
        "dlq.original.partition": str(record.id.partition),
        "dlq.original.offset": str(record.id.offset),
        "dlq.original.timestamp": str(record.timestamp_ms),
        "dlq.error.stage": dead.stage,
        "dlq.error.class": dead.error_class,
        "dlq.error.message": one_line(dead.message),
        "dlq.consumer.group": group,
        "dlq.failed.at": failed_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        REDRIVE_COUNT: str(redrive_count(record.headers)),
    }
    return kept + [(name, value.encode()) for name, value in added.items()]


class DeadLetterPublisher:
    """Publishes dead letters and waits for every acknowledgement (acks=all)."""

    def __init__(self, producer: AIOKafkaProducer, group: str, timeout_s: float = 30.0) -> None:
        self._producer = producer
        self._group = group
        self._timeout_s = timeout_s

    async def publish(
        self, topic: str, dead: Sequence[DeadLetter], failed_at: datetime
    ) -> list[tuple[int, int]]:
        """Send all; return (partition, offset) of each in the DLQ, or raise BrokerUnavailable
        (DeploymentError when the broker refuses this principal Write on the topic)."""
        if not dead:
            return []
        try:
            partitions = await self._producer.partitions_for(topic)
            count = len(partitions) if partitions else 1
            futures = [
                await self._producer.send(
                    topic,
                    value=d.record.value,
                    key=d.record.key,
                    headers=dead_letter_headers(d, self._group, failed_at),
                    partition=d.record.id.partition % count,
                )
                for d in dead
            ]
            metadata = await asyncio.wait_for(asyncio.gather(*futures), self._timeout_s)
        except BrokerUnavailable:
            raise
        except TopicAuthorizationFailedError as exc:
            raise DeploymentError(
                f"Kafka refuses Write on topic {topic!r} to this principal, so its dead "
                "letters cannot be published and nothing past them is committed: grant "
                "Write (and Describe) on it (deploy/k8s/kafka-user.yaml)"
            ) from exc
        except Exception as exc:
            what = f"dead letters to {topic} not acknowledged: {type(exc).__name__}: {exc}"
            if isinstance(classify(exc), DeploymentError):
                raise DeploymentError(one_line(what)) from exc
            raise BrokerUnavailable(one_line(what)) from exc
        return [(m.partition, m.offset) for m in metadata]


RECORD = """
INSERT INTO dead_letters AS d (
  topic, partition, "offset", consumer_group, stage, error_class, error_message, failed_at,
  redrive_count, record_key, record_value, record_headers, record_timestamp, event_id,
  event_type, dlq_partition, dlq_offset)
SELECT * FROM unnest(
  $1::text[], $2::int[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::text[],
  $8::timestamptz[], $9::int[], $10::bytea[], $11::bytea[], $12::jsonb[], $13::timestamptz[],
  $14::text[], $15::text[], $16::int[], $17::bigint[])
ORDER BY 1, 2, 3
ON CONFLICT (topic, partition, "offset") DO NOTHING
"""


def encode_headers(headers: Headers) -> str:
    """Headers as JSON text: ``[[name, base64 value or null], ...]`` (values may be any
    bytes, or null)."""
    return orjson.dumps(
        [[n, None if v is None else base64.b64encode(v).decode()] for n, v in headers]
    ).decode()


def decode_headers(text: str | list[list[str | None]]) -> Headers:
    pairs = orjson.loads(text) if isinstance(text, str) else text
    return tuple(
        (str(name), None if value is None else base64.b64decode(value)) for name, value in pairs
    )


async def record_dead_letters(
    conn: asyncpg.Connection,
    dead: Sequence[DeadLetter],
    group: str,
    failed_at: datetime,
    placed: Sequence[tuple[int, int]],
) -> None:
    """Insert one ``dead_letters`` row per record, in the transaction that moves past it."""
    if not dead:
        return
    columns: list[list[object]] = [[] for _ in range(17)]
    for d, (dlq_partition, dlq_offset) in zip(dead, placed, strict=True):
        r = d.record
        values = (
            r.id.topic, r.id.partition, r.id.offset, group, d.stage, d.error_class,
            one_line(d.message).replace("\x00", ""), failed_at, redrive_count(r.headers),
            r.key, r.value, encode_headers(r.headers),
            datetime.fromtimestamp(r.timestamp_ms / 1000, UTC) if r.timestamp_ms >= 0 else None,
            d.event_id, d.event_type, dlq_partition, dlq_offset,
        )  # fmt: skip
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    await conn.execute(RECORD, *columns)
