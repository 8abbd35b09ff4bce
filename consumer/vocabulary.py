"""The words the service, its tables and its tools share, each stated once.

The migrated check constraints allow exactly these values (a test holds them together);
the codec's ``Stage`` names where a record was refused, in the dead-letter headers and
the ``dead_letters`` table alike.
"""

from __future__ import annotations

from enum import StrEnum

from schemas.codec import Stage

__all__ = ["DeadLetterStatus", "JobStatus", "Stage"]


class JobStatus(StrEnum):
    """Where a backfill job stands (``backfill_jobs.status``)."""

    PENDING = "pending"
    """Created; no progress yet."""
    RUNNING = "running"
    """Progress reported."""
    COMPLETED = "completed"
    """Finished; terminal."""
    FAILED = "failed"
    """Given up with an error message; terminal."""

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.COMPLETED, JobStatus.FAILED)


class DeadLetterStatus(StrEnum):
    """What became of a dead letter (``dead_letters.status``)."""

    PENDING = "pending"
    """Waiting for an operator (or for a replay that applies it)."""
    REDRIVEN = "redriven"
    """Applied since: redriven by an operator, or applied afresh on a replay."""
    DISCARDED = "discarded"
    """Dropped by an operator."""
