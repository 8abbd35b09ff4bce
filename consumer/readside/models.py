"""What the read side returns: immutable pydantic models."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from pydantic import BaseModel, ConfigDict

from consumer.vocabulary import JobStatus


class Interval(StrEnum):
    """The width of an aggregate's buckets (UTC)."""

    HOUR = "hour"
    """Buckets start on the hour; whole ones come from ``system_metrics_hourly``."""
    DAY = "day"
    """Buckets start at midnight UTC; whole ones come from ``system_metrics_daily``."""


class BucketSource(StrEnum):
    """Where an aggregate's bucket was read from."""

    ROLLUP = "rollup"
    """A whole bucket, from the hourly or daily rollup table."""
    RAW = "raw"
    """A bucket the range covers only in part, summed from the raw samples in the range."""


class Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class BackfillJob(Result):
    """One backfill job as the engine last stored it."""

    job_id: UUID
    job_type: str
    start_block: int
    end_block: int
    current_block: int | None
    status: JobStatus
    error_message: str | None
    created_by: str
    sequence: int
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None


class JobPage(Result):
    """Jobs newest first; pass ``next_cursor`` back for the next page (None: no more)."""

    items: list[BackfillJob]
    next_cursor: str | None


class Feedback(Result):
    """One user's current feedback on one insight."""

    insight_id: str
    user_id: str
    rating: int
    comment: str | None
    flags: list[str]
    submitted_at: datetime
    event_id: UUID
    updated_at: datetime


class FeedbackPage(Result):
    """Feedback newest first; pass ``next_cursor`` back for the next page (None: no more)."""

    items: list[Feedback]
    next_cursor: str | None


class FeedbackStats(Result):
    """Feedback on one insight summed up; zeros (and no average) when there is none."""

    insight_id: str
    count: int
    average_rating: float | None
    distribution: dict[int, int]
    """Ratings 1 to 5, each with its count (zero included)."""
    with_comment: int
    """Feedback whose comment is not empty."""
    flags: dict[str, int]
    """Every known flag with the number of feedback rows that carry it."""


class MetricSample(Result):
    """One raw metric sample."""

    event_id: UUID
    service_name: str
    metric_type: str
    value: float
    unit: str
    recorded_at: datetime
    ingested_at: datetime


class MetricSamples(Result):
    """Raw samples in ``[start, end)``, oldest first; ``truncated`` when the limit cut them."""

    service_name: str
    metric_type: str
    start: datetime
    end: datetime
    samples: list[MetricSample]
    truncated: bool
    raw_since: datetime
    """Raw samples are kept from this time on (``UTXOIQ_METRICS_RAW_RETENTION_DAYS``);
    part of a range before it may be gone."""


class MetricBucket(Result):
    """Count, sum, average, min and max of one series, one unit, one bucket."""

    bucket_start: datetime
    unit: str
    count: int
    total: Decimal
    """Exact (``numeric``): a sum of finite doubles can exceed the largest double."""
    average: float
    minimum: float
    maximum: float
    partial: bool
    """True when the range covers only part of the bucket (computed from raw samples)."""
    source: BucketSource


class MetricAggregate(Result):
    """Buckets of ``[start, end)`` that hold samples, oldest first, then by unit."""

    service_name: str
    metric_type: str
    interval: Interval
    start: datetime
    end: datetime
    buckets: list[MetricBucket]
    raw_since: datetime
    """Raw samples are kept from this time on: a partial bucket starting earlier cannot be
    summed from them, and is listed in ``withheld`` instead of ``buckets``."""
    withheld: list[datetime]
    """Starts of the partial buckets left out because their raw samples are past retention."""
