"""Liveness, readiness and consumer lag of a running service.

Liveness asks whether each pipeline's loop still turns and makes progress: a loop that
has not come round for a while, or a partition that received new records but whose
stored position has not moved for a while, is stuck. A partition paused for retries or
behind an open breaker gets a longer bound (``UTXOIQ_HEALTH_PAUSED_STALL_S``): an
unreachable database or broker makes the process unready first, so replicas are not all
restarted at once by a short outage, but nothing retried for ever escapes liveness.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiokafka import TopicPartition as KafkaTopicPartition

if TYPE_CHECKING:
    from consumer.runner import PipelineRunner
    from consumer.service import IngestService
    from consumer.telemetry import Telemetry


@dataclass(slots=True)
class Verdict:
    """A probe's answer: healthy or not, with the reason per pipeline."""

    ok: bool = True
    checks: dict[str, str] = field(default_factory=dict)

    def fail(self, name: str, reason: str) -> None:
        self.ok = False
        self.checks[name] = reason

    def pass_(self, name: str, note: str = "ok") -> None:
        self.checks.setdefault(name, note)


def partition_lag(runner: PipelineRunner) -> dict[int, int]:
    """High watermark minus stored position, for assigned partitions whose both are known."""
    consumer = runner._consumer
    if consumer is None:
        return {}
    lags = {}
    for tp, position in list(runner.positions.items()):
        if position is None:
            continue
        high = consumer.highwater(KafkaTopicPartition(tp.topic, tp.partition))
        if high is not None:
            lags[tp.partition] = max(high - position, 0)
    return lags


def update_lag(service: IngestService, telemetry: Telemetry, shown: set[tuple[str, ...]]) -> None:
    """Set the lag gauge per partition; drop the series of partitions no longer held."""
    current: set[tuple[str, ...]] = set()
    for runner in service.runners:
        name, topic = runner.pipeline.name, runner.pipeline.topic
        for partition, lag in partition_lag(runner).items():
            labels: tuple[str, ...] = (name, topic, str(partition))
            telemetry.lag.labels(*labels).set(lag)
            current.add(labels)
    for labels in shown - current:
        telemetry.lag.remove(*labels)
    shown.clear()
    shown.update(current)


@dataclass(slots=True)
class _Seen:
    position: int
    high: int
    since: float
    held: bool = False
    """Paused, or behind an open breaker, at some point since the position last moved."""


class ProgressWatch:
    """Per partition: since when the stored position has stood still, and the high then.

    A partition is stalled when records arrived after its position last moved (the high
    watermark grew) and the position has not moved for the stall window; for a
    partition held back meanwhile (paused while a batch is retried, or behind an open
    breaker) the window is the longer paused bound, so an outage is a readiness matter
    for a while, but nothing retried for ever escapes the alarm. Lag alone would
    mislead: the commit marker of a producer transaction, or an aborted tail, keeps the
    high watermark above the last record.
    """

    def __init__(self) -> None:
        self._seen: dict[tuple[str, int], _Seen] = {}
        self._unpositioned_since: dict[str, float] = {}

    def unpositioned_for(self, runner: PipelineRunner, now: float) -> float:
        """How long the runner has had partitions waiting to be sought to their stored
        positions (0 when it has none): reading them may be what is retried for ever."""
        topic = runner.pipeline.topic
        if not runner.unpositioned:
            self._unpositioned_since.pop(topic, None)
            return 0.0
        return now - self._unpositioned_since.setdefault(topic, now)

    def stalled(self, runner: PipelineRunner, bounds: StallBounds, now: float) -> list[int]:
        consumer = runner._consumer
        topic = runner.pipeline.topic
        held = {(tp.topic, tp.partition) for tp in runner.positions}
        for key in [k for k in self._seen if k[0] == topic and k not in held]:
            del self._seen[key]
        if consumer is None or runner.unpositioned:
            return []
        paused = consumer.paused()
        stalled = []
        for tp, position in list(runner.positions.items()):
            ktp = KafkaTopicPartition(tp.topic, tp.partition)
            high = consumer.highwater(ktp)
            if position is None or high is None:
                continue
            seen = self._seen.get((tp.topic, tp.partition))
            if seen is None or seen.position != position:
                seen = self._seen[(tp.topic, tp.partition)] = _Seen(position, high, now)
            seen.held = seen.held or ktp in paused or runner.breaker_open
            bound = bounds.paused_s if seen.held else bounds.running_s
            if high > seen.high and now - seen.since > bound:
                stalled.append(tp.partition)
        return sorted(stalled)


@dataclass(frozen=True, slots=True)
class StallBounds:
    """How long records may wait with no progress: ``running_s`` for a partition that
    was never held back meanwhile, ``paused_s`` for one that was."""

    running_s: float
    paused_s: float


def _stuck_reason(
    runner: PipelineRunner, watch: ProgressWatch, bounds: StallBounds, now: float
) -> str | None:
    silent = now - runner.loop_heartbeat
    if silent > bounds.running_s:
        return f"consume loop silent for {silent:.0f}s"
    waited = watch.unpositioned_for(runner, now)
    if waited > bounds.paused_s:
        return f"partitions not positioned from PostgreSQL for {waited:.0f}s"
    stalled = watch.stalled(runner, bounds, now)
    if not stalled:
        return None
    held = " (paused or behind the breaker)" if runner.breaker_open else ""
    return f"new records on partitions {stalled}{held}, position unmoved for too long"


def liveness(service: IngestService, watch: ProgressWatch, now: float | None = None) -> Verdict:
    """Alive while every pipeline's loop turns and, when records arrive, consumes them."""
    verdict = Verdict()
    ingest = service.settings.ingest
    bounds = StallBounds(ingest.health_stall_s, ingest.health_paused_stall_s)
    now = time.monotonic() if now is None else now
    for runner in service.runners:
        reason = _stuck_reason(runner, watch, bounds, now)
        if reason is None:
            verdict.pass_(runner.pipeline.name)
        else:
            verdict.fail(runner.pipeline.name, reason)
    if not service.runners:
        verdict.pass_("service", "starting")
    return verdict


def _assignment_reason(runner: PipelineRunner) -> str | None:
    consumer = runner._consumer
    if consumer is None:
        return "consumer not started"
    if not consumer.assignment():
        return "no partitions assigned"
    if runner.unpositioned:
        return "partitions not yet positioned from PostgreSQL"
    return None


async def database_reason(pool: Any, timeout_s: float) -> str | None:
    """None when ``select 1`` answers within ``timeout_s``, else why not."""
    try:
        async with asyncio.timeout(timeout_s):
            async with pool.acquire() as conn:
                await conn.fetchval("select 1")
    except TimeoutError:
        return f"database did not answer within {timeout_s:g}s"
    except Exception as exc:
        return f"database unreachable: {type(exc).__name__}"
    return None


async def readiness(service: IngestService) -> Verdict:
    """Ready when every pipeline holds positioned partitions and the database answers."""
    verdict = Verdict()
    if not service.runners:
        verdict.fail("service", "starting")
        return verdict
    for runner in service.runners:
        reason = _assignment_reason(runner)
        if reason is None:
            verdict.pass_(runner.pipeline.name)
        else:
            verdict.fail(runner.pipeline.name, reason)
    timeout_s = service.settings.ingest.ready_db_timeout_s
    reason = await database_reason(service.runners[0].pool, timeout_s)
    if reason is None:
        verdict.pass_("database")
    else:
        verdict.fail("database", reason)
    return verdict
