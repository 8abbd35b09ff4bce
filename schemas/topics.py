"""Topics, record keys and the event types each topic carries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter

from schemas.events import (
    AnyEvent,
    FeedbackSubmitted,
    JobCompleted,
    JobCreated,
    JobFailed,
    JobProgress,
    MetricRecorded,
)
from schemas.registry import REGISTRY
from schemas.streams import Stream as Stream

JOBS_TOPIC = "utxoiq.backfill.job-progress"
FEEDBACK_TOPIC = "utxoiq.insight.feedback"
METRICS_TOPIC = "utxoiq.system.metrics"
DLQ_SUFFIX = ".dlq"


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


DEFAULT_TOPICS = {
    Stream.JOBS: JOBS_TOPIC,
    Stream.FEEDBACK: FEEDBACK_TOPIC,
    Stream.METRICS: METRICS_TOPIC,
}

CONTRACTS: dict[Stream, StreamContract] = {
    stream: StreamContract(
        stream, topic, REGISTRY.accepts(stream).types, REGISTRY.accepts(stream).adapter
    )
    for stream, topic in DEFAULT_TOPICS.items()
}
"""Each stream's default topic and the types ``REGISTRY`` (the released contract) lists."""


def stream_of(event: AnyEvent) -> Stream:
    """Which stream (and so which topic) an event of the released contract belongs to."""
    return REGISTRY.stream_of(event.type)


_KEYS: dict[Stream, Callable[[Any], str]] = {
    Stream.JOBS: job_key,
    Stream.FEEDBACK: feedback_key,
    Stream.METRICS: metric_key,
}


def record_key(event: AnyEvent) -> str:
    """The Kafka record key the contract prescribes for an event (its entity), the same
    for every version of one kind."""
    stream = stream_of(event)
    return _KEYS[stream](REGISTRY.accepts(stream).current(event))


def dlq_topic(source_topic: str) -> str:
    return source_topic + DLQ_SUFFIX
