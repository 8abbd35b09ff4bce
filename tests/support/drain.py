"""Knowing when a pipeline has consumed everything: stored positions reach the end offsets."""

from __future__ import annotations

from collections.abc import Iterable

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from consumer.settings import Settings
from schemas.topics import Stream
from tests.support.waiting import wait_until


async def end_offsets(bootstrap: str, topics: Iterable[str]) -> dict[tuple[str, int], int]:
    """The next offset to be written, per partition, read without joining a group."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    tps = [
        TopicPartition(topic["topic"], partition["partition"])
        for topic in described
        for partition in topic["partitions"]
    ]
    assert tps, f"no partitions found for {list(topics)}"
    client = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await client.start()
    try:
        client.assign(tps)
        ends = await client.end_offsets(tps)
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}
    finally:
        await client.stop()


async def stored_positions(db: asyncpg.Pool, group: str) -> dict[tuple[str, int], int]:
    rows = await db.fetch(
        "SELECT topic, partition, next_offset FROM ingest_offsets WHERE group_id = $1", group
    )
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def wait_drained(
    db: asyncpg.Pool,
    settings: Settings,
    streams: Iterable[Stream] = tuple(Stream),
    within: float = 120,
) -> None:
    """Wait until every partition's stored position equals its end offset."""
    streams = list(streams)
    topics = [settings.topics.source(s) for s in streams]
    ends = await end_offsets(settings.kafka.bootstrap_servers, topics)

    async def drained() -> bool:
        positions: dict[tuple[str, int], int] = {}
        for stream in streams:
            positions.update(await stored_positions(db, settings.ingest.group_id(stream)))
        behind = {
            tp: (positions.get(tp, 0), end)
            for tp, end in ends.items()
            if positions.get(tp, 0) != end
        }
        return not behind or False

    await wait_until(drained, within=within, interval=0.25, what=f"{topics} drained")
