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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from consumer.engine.status import PipelineStatus
from consumer.settings import IngestSettings
from consumer.telemetry import Telemetry
from consumer.view import ServiceView


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


def update_lag(
    statuses: Sequence[PipelineStatus], telemetry: Telemetry, shown: set[tuple[str, ...]]
) -> None:
    """Set the lag gauge per partition; drop the series of partitions no longer held."""
    current: set[tuple[str, ...]] = set()
    for status in statuses:
        for partition, lag in status.lag().items():
            labels: tuple[str, ...] = (status.pipeline, status.topic, str(partition))
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

    def unpositioned_for(self, status: PipelineStatus, now: float) -> float:
        """How long the member has had partitions waiting to be sought to their stored
        positions (0 when it has none): reading them may be what is retried for ever."""
        if status.positioned:
            self._unpositioned_since.pop(status.topic, None)
            return 0.0
        return now - self._unpositioned_since.setdefault(status.topic, now)

    def stalled(self, status: PipelineStatus, bounds: StallBounds, now: float) -> list[int]:
        topic = status.topic
        held = {(topic, partition) for partition in status.positions}
        for key in [k for k in self._seen if k[0] == topic and k not in held]:
            del self._seen[key]
        if not status.started or not status.positioned:
            return []
        stalled = []
        for partition, position in status.positions.items():
            high = status.highwater.get(partition)
            if position is None or high is None:
                continue
            seen = self._seen.get((topic, partition))
            if seen is None or seen.position != position:
                seen = self._seen[(topic, partition)] = _Seen(position, high, now)
            seen.held = seen.held or partition in status.paused or status.breaker_open
            bound = bounds.paused_s if seen.held else bounds.running_s
            if high > seen.high and now - seen.since > bound:
                stalled.append(partition)
        return sorted(stalled)


@dataclass(frozen=True, slots=True)
class StallBounds:
    """How long records may wait with no progress: ``running_s`` for a partition that
    was never held back meanwhile, ``paused_s`` for one that was."""

    running_s: float
    paused_s: float

    @classmethod
    def of(cls, ingest: IngestSettings) -> StallBounds:
        return cls(ingest.health_stall_s, ingest.health_paused_stall_s)


def _stuck_reason(
    status: PipelineStatus, watch: ProgressWatch, bounds: StallBounds, now: float
) -> str | None:
    silent = now - status.heartbeat
    if silent > bounds.running_s:
        return f"consume loop silent for {silent:.0f}s"
    waited = watch.unpositioned_for(status, now)
    if waited > bounds.paused_s:
        return f"partitions not positioned from PostgreSQL for {waited:.0f}s"
    stalled = watch.stalled(status, bounds, now)
    if not stalled:
        return None
    held = " (paused or behind the breaker)" if status.breaker_open else ""
    return f"new records on partitions {stalled}{held}, position unmoved for too long"


def liveness(
    statuses: Sequence[PipelineStatus],
    bounds: StallBounds,
    watch: ProgressWatch,
    now: float | None = None,
) -> Verdict:
    """Alive while every pipeline's loop turns and, when records arrive, consumes them."""
    verdict = Verdict()
    now = time.monotonic() if now is None else now
    for status in statuses:
        reason = _stuck_reason(status, watch, bounds, now)
        if reason is None:
            verdict.pass_(status.pipeline)
        else:
            verdict.fail(status.pipeline, reason)
    if not statuses:
        verdict.pass_("service", "starting")
    return verdict


def _assignment_reason(status: PipelineStatus) -> str | None:
    if not status.started:
        return "consumer not started"
    if not status.assigned:
        return "no partitions assigned"
    if not status.positioned:
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


async def readiness(service: ServiceView) -> Verdict:
    """Ready when every pipeline holds positioned partitions and the database answers."""
    verdict = Verdict()
    statuses = service.statuses()
    if not statuses or service.pool is None:
        verdict.fail("service", "starting")
        return verdict
    for status in statuses:
        reason = _assignment_reason(status)
        if reason is None:
            verdict.pass_(status.pipeline)
        else:
            verdict.fail(status.pipeline, reason)
    timeout_s = service.settings.ingest.ready_db_timeout_s
    reason = await database_reason(service.pool, timeout_s)
    if reason is None:
        verdict.pass_("database")
    else:
        verdict.fail("database", reason)
    return verdict
