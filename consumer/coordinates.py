"""Typed value objects for Kafka coordinates and consumed records."""

from __future__ import annotations

from typing import Any, NamedTuple


class TopicPartition(NamedTuple):
    topic: str
    partition: int


class RecordId(NamedTuple):
    """(topic, partition, offset): identifies one record, and one dead letter."""

    topic: str
    partition: int
    offset: int

    def __str__(self) -> str:
        return f"{self.topic}:{self.partition}:{self.offset}"

    @property
    def topic_partition(self) -> TopicPartition:
        return TopicPartition(self.topic, self.partition)

    @classmethod
    def parse(cls, text: str) -> RecordId:
        """Parse ``TOPIC:PARTITION:OFFSET`` (the topic may itself hold colons)."""
        topic, partition, offset = text.rsplit(":", 2)
        if not topic:
            raise ValueError("empty topic")
        return cls(topic, int(partition), int(offset))


Headers = tuple[tuple[str, bytes], ...]


class Record(NamedTuple):
    """One consumed Kafka record, as bytes, with its coordinates (a tuple: cheap to build
    thousands of times per batch)."""

    id: RecordId
    key: bytes | None
    value: bytes | None
    headers: Headers
    timestamp_ms: int

    @property
    def size(self) -> int:
        return len(self.value or b"") + len(self.key or b"")

    @classmethod
    def from_kafka(cls, message: Any) -> Record:
        headers = message.headers
        return cls(
            RecordId(message.topic, message.partition, message.offset),
            message.key,
            message.value,
            tuple((name, bytes(value or b"")) for name, value in headers) if headers else (),
            message.timestamp,
        )
