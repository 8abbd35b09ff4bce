"""Creating the source and dead-letter topics when they are missing."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from consumer.pipelines import Pipeline
from consumer.settings import Settings
from schemas.topics import Stream

log = logging.getLogger("utxoiq.topics")


async def start_or_close(client: Any) -> None:
    """Start an aiokafka client; close it again when it cannot start (no leaked sockets)."""
    try:
        await client.start()
    except BaseException:
        await (client.close() if hasattr(client, "close") else client.stop())
        raise


DLQ_MAX_MESSAGE_BYTES = 2 * 1024 * 1024
"""A dead letter is the original plus headers: its topic takes larger records."""


def wanted_topics(settings: Settings, pipelines: Iterable[Pipeline]) -> list[NewTopic]:
    topics = []
    for pipeline in pipelines:
        partitions = (
            settings.ingest.metrics_partitions
            if pipeline.stream is Stream.METRICS
            else settings.ingest.default_partitions
        )
        topics.append(NewTopic(pipeline.topic, partitions, 1))
        topics.append(
            NewTopic(
                pipeline.dead_letter_topic,
                partitions,
                1,
                topic_configs={"max.message.bytes": str(DLQ_MAX_MESSAGE_BYTES)},
            )
        )
    return topics


async def ensure_topics(settings: Settings, pipelines: Iterable[Pipeline]) -> list[str]:
    """Create whichever source or DLQ topics do not exist yet; return the names created."""
    admin = AIOKafkaAdminClient(**settings.kafka.client_options())
    await start_or_close(admin)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in wanted_topics(settings, pipelines) if t.name not in existing]
        if not missing:
            return []
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(missing)
        names = [t.name for t in missing]
        log.info("topics created", extra={"topics": names})
        return names
    finally:
        await admin.close()
