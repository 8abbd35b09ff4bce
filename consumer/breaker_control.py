"""The running side of a pipeline's breaker: the alarm, the wait, the reports to the
``breaker_states`` table and the operators' closes read from ``breaker_closes``.

The state machine itself is ``consumer.breaker`` (pure); this module gives it the
clock, waits out its cool-down in the lane whose batch tripped it, and turns its state
changes into one log line, a gauge and a row.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg

from consumer.breaker import BreakerState, DeadLetterBreaker
from consumer.breaker_store import close_requests, member_name, save_state
from consumer.telemetry import Telemetry

log = logging.getLogger("utxoiq.consumer")

CLOSE_POLL_S = 1.0
"""How often a member whose breaker is open reads the operators' close requests."""
WAIT_SLICE_S = 0.1


class BreakerControl:
    """One pipeline member's breaker, as the runner uses it."""

    def __init__(
        self,
        breaker: DeadLetterBreaker,
        pool: asyncpg.Pool,
        group: str,
        telemetry: Telemetry,
        log_extra: Mapping[str, Any],
    ) -> None:
        self.breaker = breaker
        self._pool = pool
        self._group = group
        self._telemetry = telemetry
        self._log = dict(log_extra)
        self._pipeline = str(log_extra.get("pipeline", ""))
        self.member = member_name()
        self._closes_seen = 0

    @property
    def open(self) -> bool:
        return self.breaker.state is BreakerState.OPEN

    def trips(self, records: int, dead: int) -> bool:
        """Would a batch of ``records`` with ``dead`` dead letters trip the breaker?"""
        return self.breaker.would_trip(records, dead)

    async def tripped(self, reason: str, stopping: Callable[[], bool]) -> None:
        """A batch was held back: open (with the alarm) unless open already, then wait
        for the cool-down, an operator's close, or ``stopping()``."""
        if not self.open:
            self.breaker.trip(reason, time.monotonic())
            self._closes_seen = await self._read_closes(self._closes_seen)
            await self._changed("ALARM dead-letter circuit breaker open: pipeline paused")
        await self._wait(stopping)

    async def committed(self, records: int, dead: int) -> None:
        """Count a committed batch; report the breaker closing after a half-open window."""
        before = self.breaker.state
        self.breaker.record(records, dead)
        if before is not self.breaker.state:
            await self._changed(
                "dead-letter circuit breaker closed: dead letters no longer dominate"
            )

    async def stopped(self) -> None:
        """The member stops: a breaker it leaves open or half-open holds nothing any more,
        so its row says closed (the partitions' next owner judges them afresh)."""
        if self.breaker.state is not BreakerState.CLOSED:
            self.breaker.close_now()
            await self._changed("dead-letter circuit breaker closed: the member stops")

    async def _wait(self, stopping: Callable[[], bool]) -> None:
        next_read = time.monotonic() + CLOSE_POLL_S
        while self.open and not stopping():
            now = time.monotonic()
            if self.breaker.remaining_s(now) <= 0:
                self.breaker.half_open()
                await self._changed("dead-letter circuit breaker half-open: one batch goes through")
                return
            if now >= next_read:
                next_read = now + CLOSE_POLL_S
                if await self._read_closes(self._closes_seen) > self._closes_seen:
                    self.breaker.close_now()
                    await self._changed("dead-letter circuit breaker closed by an operator")
                    return
            await asyncio.sleep(min(self.breaker.remaining_s(now), WAIT_SLICE_S))

    async def _read_closes(self, fallback: int) -> int:
        try:
            async with self._pool.acquire() as conn:
                return await close_requests(conn, self._group)
        except Exception as exc:
            log.warning(
                "cannot read breaker close requests", extra={**self._log, "error": str(exc)}
            )
            return fallback

    async def _changed(self, message: str) -> None:
        """Log, export and record the breaker's new state (the row is best effort)."""
        breaker = self.breaker
        self._telemetry.breaker_open.labels(self._pipeline).set(1 if self.open else 0)
        extra = {
            **self._log,
            "state": breaker.state.value,
            "reason": breaker.reason,
            "window": breaker.window,
            "threshold": breaker.threshold,
            "cooldown_s": breaker.cooldown_s,
        }
        (log.error if self.open else log.warning)(message, extra=extra)
        try:
            async with self._pool.acquire() as conn:
                await save_state(
                    conn,
                    self._group,
                    self.member,
                    self._pipeline,
                    breaker.state,
                    breaker.reason,
                    breaker.cooldown_s,
                )
        except Exception as exc:
            log.warning("cannot record the breaker's state", extra={**self._log, "error": str(exc)})
