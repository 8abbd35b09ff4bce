"""What ``EventPublisher`` hands back and raises, and its record of each open job's
sequence. Usable by producers alone: nothing here imports the ``consumer`` package."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


class PublishError(Exception):
    """An event could not be published (the broker refused it or never answered)."""


class BrokerUnreachable(PublishError):
    """Kafka cannot be reached, or did not acknowledge in time."""


class UnknownJobSequence(PublishError):
    """A job helper was called for a job whose sequence this publisher does not track."""


@dataclass(frozen=True, slots=True)
class Sent:
    """Where an acknowledged event was written."""

    topic: str
    partition: int
    offset: int
    event_id: UUID


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One metric sample for ``EventPublisher.record_metrics``."""

    service_name: str
    metric_type: str
    value: float
    unit: str
    at: datetime | None = None


class JobSequences:
    """The last sequence handed out for each open job: a job is tracked from its
    creation (or ``resume``) until its terminal event."""

    def __init__(self) -> None:
        self._last: dict[UUID, int] = {}

    def resume(self, job_id: UUID, last_sequence: int) -> None:
        """Track ``job_id`` from ``last_sequence``: the next one is ``last_sequence + 1``."""
        self._last[job_id] = last_sequence

    def next(self, job_id: UUID) -> int:
        """The job's next sequence; one handed out is never reused, even if its send fails."""
        if job_id not in self._last:
            raise UnknownJobSequence(
                f"job {job_id} is not tracked by this publisher (never created here, or "
                "already finished): call resume_job(job_id, last_sequence) first"
            )
        self._last[job_id] += 1
        return self._last[job_id]

    def finish(self, job_id: UUID) -> None:
        """Stop tracking a job that reached a terminal event."""
        self._last.pop(job_id, None)
