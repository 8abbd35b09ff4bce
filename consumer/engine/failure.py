"""The failure policy: an error raised while applying a batch, classified once into what
the engine does about it, and the retry bookkeeping that goes with a transient one.

Records' own faults never reach here: the apply stage dead-letters them. What reaches
here is the surroundings' (or the breaker's) business.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from consumer.backoff import backoff_delay
from consumer.errors import BreakerOpen, PositionConflict, TransientError
from consumer.settings import IngestSettings
from consumer.telemetry import Telemetry

log = logging.getLogger("utxoiq.consumer")


class Action(StrEnum):
    """What the engine does about an error raised while applying a batch."""

    RETRY = "retry"
    """Transient: back off and apply the batch again; positions stay where they are."""
    WAIT_FOR_BREAKER = "wait-for-breaker"
    """Dead letters dominate: hold the pipeline back until the breaker half-opens."""
    REPOSITION = "reposition"
    """Another member moved the stored position: seek every partition again."""
    STOP = "stop"
    """Neither transient nor the breaker's: the pipeline (and the service) stops."""


def action_for(error: BaseException) -> Action:
    """The action for ``error`` (pure). The position conflict is transient too, but no
    retry can cure it: it is checked first."""
    if isinstance(error, BreakerOpen):
        return Action.WAIT_FOR_BREAKER
    if isinstance(error, PositionConflict):
        return Action.REPOSITION
    if isinstance(error, TransientError):
        return Action.RETRY
    return Action.STOP


class RetryAccount:
    """Backoff delays and the retry counters and log lines of one pipeline."""

    def __init__(
        self,
        ingest: IngestSettings,
        telemetry: Telemetry,
        pipeline: str,
        log_extra: Mapping[str, Any],
    ) -> None:
        self._ingest = ingest
        self._telemetry = telemetry
        self._pipeline = pipeline
        self._log = dict(log_extra)

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        ingest = self._ingest
        return backoff_delay(
            attempt, ingest.retry_initial_backoff_ms / 1000, ingest.retry_max_backoff_ms / 1000
        )

    def count(self, error: Exception, attempt: int = 1) -> None:
        """Count a retry of ``error``; at the budget, raise the alarm (retries go on)."""
        cause = type(error).__name__
        self._telemetry.retries.labels(self._pipeline, cause).inc()
        extra = {**self._log, "cause": cause, "attempt": attempt, "error": str(error)}
        if attempt == self._ingest.retry_budget:
            self._telemetry.retry_budget_exhausted.labels(self._pipeline).inc()
            log.error("ALARM retry budget exhausted; still retrying, nothing skipped", extra=extra)
        else:
            log.warning("transient failure; retrying", extra=extra)
