"""The three streams of events: each has its own topic and consumer pipeline."""

from __future__ import annotations

from enum import StrEnum


class Stream(StrEnum):
    """The three kinds of records; each has its own topic and consumer pipeline."""

    JOBS = "jobs"
    """Backfill job lifecycle: created, progress, completed, failed (keyed by job_id)."""
    FEEDBACK = "feedback"
    """Users' feedback on insights (keyed by insight_id:user_id)."""
    METRICS = "metrics"
    """System metric samples (keyed by service_name)."""
