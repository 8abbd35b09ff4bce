"""Kafka clients for operator tools: none of them joins a consumer group."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from consumer.coordinates import TopicPartition
from consumer.ops.errors import OperationRefused
from consumer.settings import Settings
from consumer.topics_admin import start_or_close

_MEMBERS = 5
"""Index of the member list in a DescribeGroups response entry."""


def kafka_tp(tp: TopicPartition) -> KafkaTopicPartition:
    return KafkaTopicPartition(tp.topic, tp.partition)


@contextlib.asynccontextmanager
async def reader(settings: Settings) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer without a group id: it reads offsets and records and commits nothing."""
    consumer = AIOKafkaConsumer(
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        **settings.kafka.client_options(),
    )
    await start_or_close(consumer)
    try:
        yield consumer
    finally:
        await consumer.stop()


@contextlib.asynccontextmanager
async def admin(settings: Settings) -> AsyncIterator[AIOKafkaAdminClient]:
    client = AIOKafkaAdminClient(**settings.kafka.client_options())
    await start_or_close(client)
    try:
        yield client
    finally:
        await client.close()


async def partitions_of(settings: Settings, topic: str) -> list[int]:
    """The topic's partition numbers; ``OperationRefused`` when the topic does not exist."""
    async with admin(settings) as client:
        described = await client.describe_topics([topic])
    partitions = [p["partition"] for t in described if not t["error_code"] for p in t["partitions"]]
    if not partitions:
        raise OperationRefused(f"topic {topic!r} does not exist")
    return sorted(partitions)


async def live_members(client: AIOKafkaAdminClient, group: str) -> list[str]:
    """``client_id@host`` of every member currently in ``group`` (empty when none)."""
    members: list[str] = []
    for response in await client.describe_consumer_groups([group]):
        for entry in response.groups:
            members.extend(f"{m[1]}@{m[2].lstrip('/')}" for m in entry[_MEMBERS])
    return members


async def committed_offsets(client: AIOKafkaAdminClient, group: str) -> dict[TopicPartition, int]:
    """The group's committed Kafka offsets (partitions without one are absent)."""
    offsets = await client.list_consumer_group_offsets(group)
    return {
        TopicPartition(tp.topic, tp.partition): meta.offset
        for tp, meta in offsets.items()
        if meta.offset >= 0
    }


async def commit_offsets(
    settings: Settings, group: str, offsets: Mapping[TopicPartition, int]
) -> None:
    """Store ``offsets`` as the group's committed offsets without joining the group.

    The partitions are assigned by hand, so the broker takes this as a commit from
    outside the group; it refuses it while the group has live members.
    """
    options: dict[str, Any] = settings.kafka.client_options()
    consumer = AIOKafkaConsumer(group_id=group, enable_auto_commit=False, **options)
    await start_or_close(consumer)
    try:
        consumer.assign([kafka_tp(tp) for tp in offsets])
        await consumer.commit({kafka_tp(tp): offset for tp, offset in offsets.items()})
    finally:
        await consumer.stop()
