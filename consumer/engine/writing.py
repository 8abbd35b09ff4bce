"""The apply stage of a lane, with the failure policy applied: one decoded batch applied
(``transaction.apply_batch``) until it commits, or until its partitions are given up.

A transient failure is retried with backoff; a batch the breaker holds back waits for
the breaker; a position another member moved sends every partition back to be sought;
an error of the server or the deployment that retrying cannot cure stops the pipeline.
A write never polls Kafka.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass

import asyncpg

from consumer.deadletters import DeadLetterPublisher
from consumer.decoding import DecodedBatch
from consumer.engine.failure import Action, action_for
from consumer.engine.parts import EngineParts
from consumer.errors import DeploymentError
from consumer.grants import explain_denied
from consumer.outcomes import BatchReport
from consumer.pipelines import Pipeline
from consumer.settings import IngestSettings
from consumer.transaction import apply_batch

log = logging.getLogger("utxoiq.consumer")

SLEEP_SLICE_S = 0.1
"""A backoff sleeps in slices this long, so a stop or a rebalance ends it within this."""


class LaneWriter:
    """Applies lanes' batches for one pipeline member."""

    def __init__(
        self,
        pipeline: Pipeline,
        ingest: IngestSettings,
        pool: asyncpg.Pool,
        publisher: DeadLetterPublisher,
        engine: EngineParts,
    ) -> None:
        self._pipeline = pipeline
        self._ingest = ingest
        self._pool = pool
        self._publisher = publisher
        self._parts = engine
        self._log = engine.log

    async def write(self, work: DecodedBatch, stop: asyncio.Event) -> None:
        """Apply one lane's batch, retrying transient failures."""
        async with self._parts.gate.writing():
            await self._until_committed(work, stop)

    async def _until_committed(self, work: DecodedBatch, stop: asyncio.Event) -> None:
        retry = _RetryState()
        while True:
            work = work.owned(self._parts.table.owned())
            if not work.batch:
                return
            try:
                report, tally = await self._apply_once(work)
            except Exception as exc:
                if await self._after_failure(exc, retry, stop):
                    continue
                return
            await self._parts.breaker.committed(*tally)
            self._committed(work, report)
            return

    async def _after_failure(self, exc: Exception, retry: _RetryState, stop: asyncio.Event) -> bool:
        """Act on a failed attempt as the failure policy says: True to apply the batch
        again, False when it is given up (its partitions are sought again); raises to
        stop the pipeline."""
        parts = self._parts
        action = action_for(exc)
        if action is Action.STOP:
            if isinstance(exc, DeploymentError):
                raise await explain_denied(self._pool, exc) from exc
            raise exc
        if action is Action.REPOSITION:
            log.warning(
                "position moved elsewhere; re-reading", extra={**self._log, "error": str(exc)}
            )
            parts.table.reposition_all()
            return False
        if action is Action.WAIT_FOR_BREAKER:
            return await self._breaker_let_through(str(exc), stop)
        retry.attempt += 1
        parts.retries.count(exc, retry.attempt)
        if stop.is_set() and retry.deadline is None:
            retry.deadline = time.monotonic() + self._ingest.shutdown_timeout_s / 2
        if self._gives_up(retry.deadline):
            return False
        await self._sleep(parts.retries.delay(retry.attempt), stop)
        return True

    async def _breaker_let_through(self, reason: str, stop: asyncio.Event) -> bool:
        """Wait for the breaker to half-open: True to try the batch again, False when
        stopping or a rebalance gave the batch up (every partition is sought again)."""
        gate = self._parts.gate
        await self._parts.breaker.tripped(reason, lambda: stop.is_set() or gate.abandon)
        if gate.abandon or stop.is_set():
            self._parts.table.reposition_all()
            return False
        return True

    def _gives_up(self, deadline: float | None) -> bool:
        """After a transient failure: whether to abandon the batch (a rebalance takes its
        partitions, or stopping has waited long enough); it is fetched again later."""
        if not self._parts.gate.abandon and (deadline is None or time.monotonic() <= deadline):
            return False
        log.warning("batch abandoned; it will be fetched again", extra=self._log)
        self._parts.table.reposition_all()
        return True

    async def _apply_once(self, work: DecodedBatch) -> tuple[BatchReport, tuple[int, int]]:
        """One attempt at a batch: its report, and the (records, dead letters) the breaker
        judged it by."""
        tally = (0, 0)
        breaker = self._parts.breaker

        def breaker_trips(records: int, dead: int) -> bool:
            nonlocal tally
            tally = (records, dead)
            return breaker.trips(records, dead)

        table = self._parts.table
        report = await apply_batch(
            self._pool,
            self._pipeline,
            work,
            {tp: table.positions[tp] for tp in work.batch.parts},
            self._publisher,
            breaker_trips=breaker_trips,
            async_commit=self._ingest.async_commit,
            marks=table.marks,
        )
        return report, tally

    def _committed(self, work: DecodedBatch, report: BatchReport) -> None:
        """Move the positions, count, log, and hand the positions to the Kafka mirror
        (never awaited)."""
        parts, batch = self._parts, work.batch
        parts.table.advance(batch.next_positions())
        parts.pulse.progressed()
        parts.telemetry.batch_committed(self._pipeline.name, self._pipeline.topic, report)
        log.info("batch committed", extra={**self._log, **report.as_log()})
        parts.mirror.submit({tp: parts.table.positions.get(tp) for tp in batch.parts})

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> None:
        """Sleep up to ``seconds``, waking early on stop or when a rebalance abandons."""
        end = time.monotonic() + seconds
        while not stop.is_set() and not self._parts.gate.abandon:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, SLEEP_SLICE_S))


@dataclass(slots=True)
class _RetryState:
    """The transient failures of one batch: how many, and (once stopping) until when
    they are retried."""

    attempt: int = 0
    deadline: float | None = None
