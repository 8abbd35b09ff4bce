"""Topics, record keys and the event types each topic carries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter

from schemas.events import (
    AnyEvent,
    FeedbackSubmitted,
    JobCompleted,
    JobCreated,
    JobEvent,
    JobFailed,
    JobProgress,
    MetricRecorded,
)

JOBS_TOPIC = "utxoiq.backfill.job-progress"
FEEDBACK_TOPIC = "utxoiq.insight.feedback"
METRICS_TOPIC = "utxoiq.system.metrics"
DLQ_SUFFIX = ".dlq"


class Stream(StrEnum):
    """The three kinds of records; each has its own topic and consumer pipeline."""

    JOBS = "jobs"
    """Backfill job lifecycle: created, progress, completed, failed (keyed by job_id)."""
    FEEDBACK = "feedback"
    """Users' feedback on insights (keyed by insight_id:user_id)."""
    METRICS = "metrics"
    """System metric samples (keyed by service_name)."""


@dataclass(frozen=True, slots=True)
class StreamContract:
    stream: Stream
    default_topic: str
    event_types: tuple[str, ...]
    adapter: TypeAdapter[Any]


def job_key(event: JobCreated | JobProgress | JobCompleted | JobFailed) -> str:
    return str(event.data.job_id)


def feedback_key(event: FeedbackSubmitted) -> str:
    return f"{event.data.insight_id}:{event.data.user_id}"


def metric_key(event: MetricRecorded) -> str:
    return event.data.service_name


CONTRACTS: dict[Stream, StreamContract] = {
    Stream.JOBS: StreamContract(
        Stream.JOBS,
        JOBS_TOPIC,
        (
            "utxoiq.backfill.job.created",
            "utxoiq.backfill.job.progress",
            "utxoiq.backfill.job.completed",
            "utxoiq.backfill.job.failed",
        ),
        TypeAdapter(JobEvent),
    ),
    Stream.FEEDBACK: StreamContract(
        Stream.FEEDBACK,
        FEEDBACK_TOPIC,
        ("utxoiq.insight.feedback.submitted",),
        TypeAdapter(FeedbackSubmitted),
    ),
    Stream.METRICS: StreamContract(
        Stream.METRICS,
        METRICS_TOPIC,
        ("utxoiq.system.metric.recorded",),
        TypeAdapter(MetricRecorded),
    ),
}


def stream_of(event: AnyEvent) -> Stream:
    """Which stream (and so which topic) an event belongs to."""
    if isinstance(event, JobCreated | JobProgress | JobCompleted | JobFailed):
        return Stream.JOBS
    if isinstance(event, FeedbackSubmitted):
        return Stream.FEEDBACK
    return Stream.METRICS


_KEYS: dict[Stream, Callable[[Any], str]] = {
    Stream.JOBS: job_key,
    Stream.FEEDBACK: feedback_key,
    Stream.METRICS: metric_key,
}


def record_key(event: AnyEvent) -> str:
    """The Kafka record key the contract prescribes for an event (its entity)."""
    return _KEYS[stream_of(event)](event)


def dlq_topic(source_topic: str) -> str:
    return source_topic + DLQ_SUFFIX
