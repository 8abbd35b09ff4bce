"""Noticing records that Kafka's retention removed before they were consumed.

A stored position below a partition's log start means the records in between were
deleted by the broker (retention or an operator's DeleteRecords) while this group was
behind or away. Kafka then starts the group at the log start, and those records can no
longer be applied or dead-lettered: the loss must at least be loud, never silent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka import TopicPartition as KafkaTopicPartition
from aiokafka.errors import KafkaError

from consumer.coordinates import TopicPartition

log = logging.getLogger("utxoiq.consumer")

LOG_START_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class RetentionLoss:
    """Records of one partition deleted by the broker before this group consumed them."""

    partition: TopicPartition
    stored: int
    log_start: int

    @property
    def records(self) -> int:
        """Offsets skipped (an upper bound: transaction markers take offsets too)."""
        return self.log_start - self.stored


def retention_losses(
    stored: Mapping[TopicPartition, int], log_starts: Mapping[TopicPartition, int]
) -> list[RetentionLoss]:
    """The partitions whose stored position lies below the log start."""
    return [
        RetentionLoss(tp, position, log_starts[tp])
        for tp, position in sorted(stored.items())
        if tp in log_starts and position < log_starts[tp]
    ]


async def log_starts(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], log_extra: Mapping[str, Any]
) -> dict[TopicPartition, int]:
    """Each partition's first offset still in the log; {} when the broker cannot say
    within ``LOG_START_TIMEOUT_S`` (a diagnostic: seeking waits no longer than that)."""
    if not partitions:
        return {}
    wanted = [KafkaTopicPartition(tp.topic, tp.partition) for tp in partitions]
    try:
        starts = await asyncio.wait_for(consumer.beginning_offsets(wanted), LOG_START_TIMEOUT_S)
    except (KafkaError, TimeoutError) as exc:
        log.warning("cannot read the log start offsets", extra={**log_extra, "error": str(exc)})
        return {}
    return {TopicPartition(ktp.topic, ktp.partition): offset for ktp, offset in starts.items()}
