"""The machinery a pipeline member's stages share, built once per member."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from consumer.breaker import DeadLetterBreaker
from consumer.breaker_control import BreakerControl
from consumer.engine.carry import Carry
from consumer.engine.failure import RetryAccount
from consumer.engine.gate import WriteGate
from consumer.engine.offset_mirror import OffsetMirror
from consumer.engine.partitions import PartitionTable
from consumer.engine.status import Pulse
from consumer.pipelines import Pipeline
from consumer.redelivery import DeadLetterMarks
from consumer.settings import IngestSettings
from consumer.telemetry import Telemetry


class EngineParts:
    """The partition table, the write gate, the breaker, the retry account, the offset
    mirror, the pulse, telemetry and the log fields of one pipeline member."""

    def __init__(
        self, pipeline: Pipeline, ingest: IngestSettings, pool: asyncpg.Pool, telemetry: Telemetry
    ) -> None:
        extra = {"pipeline": pipeline.name, "topic": pipeline.topic, "group": pipeline.group}
        self.log: Mapping[str, Any] = extra
        self.telemetry = telemetry
        self.pulse = Pulse()
        table = self.table = PartitionTable(
            pipeline.name, telemetry, Carry(), DeadLetterMarks(), extra
        )
        self.gate = WriteGate()
        self.mirror = OffsetMirror(lambda: table.consumer, extra)
        self.retries = RetryAccount(ingest, telemetry, pipeline.name, extra)
        breaker = DeadLetterBreaker(
            ingest.breaker_window,
            ingest.breaker_threshold,
            ingest.breaker_cooldown_s,
            ingest.breaker_max_cooldown_s,
        )
        self.breaker = BreakerControl(breaker, pool, pipeline.group, telemetry, extra)
