"""utxoIQ event contracts: CloudEvents envelopes, topics and keys.

Usable by producers alone: nothing here imports the ``consumer`` package.
"""

from schemas.codec import (
    DEFAULT_MAX_EVENT_BYTES,
    EventRejected,
    InvalidEvent,
    Rejection,
    UndecodableEvent,
    decode,
    encode,
)
from schemas.events import (
    EVENT_MODELS,
    FEEDBACK_FLAGS,
    AnyEvent,
    Envelope,
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
from schemas.extras import unknown_fields
from schemas.publisher import EventPublisher
from schemas.publishing import (
    BrokerUnreachable,
    MetricSample,
    PublishError,
    Sent,
    UnknownJobSequence,
)
from schemas.registry import REGISTRY, EventVersion, Registry, StreamTypes, schema_id
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
    "REGISTRY",
    "AnyEvent",
    "BrokerUnreachable",
    "Envelope",
    "EventPublisher",
    "EventRejected",
    "EventVersion",
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
    "MetricSample",
    "PublishError",
    "Registry",
    "Rejection",
    "Sent",
    "Stream",
    "StreamTypes",
    "UndecodableEvent",
    "UnknownJobSequence",
    "decode",
    "dlq_topic",
    "encode",
    "record_key",
    "schema_id",
    "stream_of",
    "unknown_fields",
]
