"""utxoIQ event contracts: CloudEvents envelopes, topics and keys.

Usable by producers alone: nothing here imports the ``consumer`` package.
"""

from schemas.codec import (
    DEFAULT_MAX_EVENT_BYTES,
    EventRejected,
    InvalidEvent,
    UndecodableEvent,
    decode,
    encode,
)
from schemas.events import (
    EVENT_MODELS,
    FEEDBACK_FLAGS,
    AnyEvent,
    FeedbackSubmitted,
    FeedbackSubmittedData,
    JobCompleted,
    JobCompletedData,
    JobCreated,
    JobCreatedData,
    JobFailed,
    JobFailedData,
    JobProgress,
    JobProgressData,
    MetricRecorded,
    MetricRecordedData,
)
from schemas.topics import (
    CONTRACTS,
    FEEDBACK_TOPIC,
    JOBS_TOPIC,
    METRICS_TOPIC,
    Stream,
    dlq_topic,
    record_key,
    stream_of,
)

__all__ = [
    "CONTRACTS",
    "DEFAULT_MAX_EVENT_BYTES",
    "EVENT_MODELS",
    "FEEDBACK_FLAGS",
    "FEEDBACK_TOPIC",
    "JOBS_TOPIC",
    "METRICS_TOPIC",
    "AnyEvent",
    "EventRejected",
    "FeedbackSubmitted",
    "FeedbackSubmittedData",
    "InvalidEvent",
    "JobCompleted",
    "JobCompletedData",
    "JobCreated",
    "JobCreatedData",
    "JobFailed",
    "JobFailedData",
    "JobProgress",
    "JobProgressData",
    "MetricRecorded",
    "MetricRecordedData",
    "Stream",
    "UndecodableEvent",
    "decode",
    "dlq_topic",
    "encode",
    "record_key",
    "stream_of",
]
