"""The audit of an idle member's positions against the stored ones.

With asynchronous commits (``UTXOIQ_ASYNC_COMMIT``) a PostgreSQL crash can lose commits
already acknowledged, leaving the stored positions behind the ones this member holds.
When idle, the member checks; if any is behind, every partition is sought again, so a
quiet partition does not wait for its next record to have those records applied again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg

from consumer.engine.partitions import PartitionTable
from consumer.errors import classify
from consumer.positions import load_positions

log = logging.getLogger("utxoiq.consumer")

AUDIT_INTERVAL_S = 5.0
"""How often an idle loop checks its positions against the stored ones: a crash that
lost commits is noticed within this long of the member going quiet, at one small read
per interval."""


class PositionAudit:
    """Checks, at most every ``AUDIT_INTERVAL_S``, that no stored position is behind."""

    def __init__(
        self,
        table: PartitionTable,
        pool: asyncpg.Pool,
        group: str,
        log_extra: Mapping[str, Any],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._table = table
        self._pool = pool
        self._group = group
        self._log = dict(log_extra)
        self._clock = clock
        self._audited_at = clock()

    def due(self) -> bool:
        """Whether an audit is due now; if so, the next one is an interval away."""
        now = self._clock()
        if now - self._audited_at < AUDIT_INTERVAL_S:
            return False
        self._audited_at = now
        return True

    async def run(self) -> None:
        """Audit when due: reposition every partition if a stored position is behind."""
        if not self.due():
            return
        table = self._table
        held = {tp: p for tp, p in table.positions.items() if p is not None}
        if not held or table.unpositioned:
            return
        try:
            async with self._pool.acquire() as conn:
                stored = await load_positions(conn, self._group, held)
        except Exception as exc:
            log.warning(
                "cannot check stored positions", extra={**self._log, "error": str(classify(exc))}
            )
            return
        behind = sorted(f"{tp.partition}" for tp, p in held.items() if stored.get(tp, -1) < p)
        if behind:
            log.warning(
                "stored positions are behind this member's (a commit lost in a PostgreSQL "
                "crash); seeking every partition to its stored position again",
                extra={**self._log, "partitions": behind},
            )
            table.reposition_all()
