"""Pydantic models of the CloudEvents envelope and the six utxoIQ event types.

The models follow ARCHITECTURE.md to the letter: unknown top-level attributes are
allowed (CloudEvents extensions), unknown fields inside ``data`` are rejected, and every
scalar is strict (a rating of ``"4"`` or ``4.0`` is refused, not coerced).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

INT64_MAX = 2**63 - 1
"""Block heights and sequences are stored as PostgreSQL ``bigint``."""

MAX_TEXT = 1024
"""Upper bound on identifiers and short strings, so a row always fits an index entry."""

MAX_COMMENT = 4000
MAX_ERROR_MESSAGE = 8000

FeedbackFlag = Literal["inaccurate", "misleading", "outdated", "spam", "offensive", "other"]
FEEDBACK_FLAGS: tuple[str, ...] = (
    "inaccurate",
    "misleading",
    "outdated",
    "spam",
    "offensive",
    "other",
)

ShortText = Annotated[str, Field(max_length=MAX_TEXT)]
BlockHeight = Annotated[int, Field(ge=0, le=INT64_MAX)]
Sequence = Annotated[int, Field(ge=0, le=INT64_MAX)]


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class JobCreatedData(_Data):
    job_id: UUID
    job_type: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    start_block: BlockHeight
    end_block: BlockHeight
    created_by: ShortText
    sequence: Sequence

    @model_validator(mode="after")
    def _range_is_ordered(self) -> JobCreatedData:
        if self.end_block < self.start_block:
            raise ValueError(
                f"end_block ({self.end_block}) must be >= start_block ({self.start_block})"
            )
        return self


class JobProgressData(_Data):
    job_id: UUID
    current_block: Annotated[int, Field(ge=-INT64_MAX, le=INT64_MAX)]
    sequence: Sequence


class JobCompletedData(_Data):
    job_id: UUID
    sequence: Sequence


class JobFailedData(_Data):
    job_id: UUID
    error_message: Annotated[str, Field(max_length=MAX_ERROR_MESSAGE)]
    sequence: Sequence


class FeedbackSubmittedData(_Data):
    insight_id: ShortText
    user_id: ShortText
    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, Field(max_length=MAX_COMMENT)] | None
    flags: list[FeedbackFlag]

    @field_validator("flags")
    @classmethod
    def _flags_are_distinct(cls, flags: list[str]) -> list[str]:
        if len(set(flags)) != len(flags):
            raise ValueError("flags must be distinct")
        return flags


class MetricRecordedData(_Data):
    service_name: ShortText
    metric_type: ShortText
    value: Annotated[float, Field(allow_inf_nan=False)]
    unit: ShortText


class _Envelope(BaseModel):
    """CloudEvents 1.0 structured-mode attributes shared by every event."""

    model_config = ConfigDict(extra="ignore", strict=True, frozen=True)

    specversion: Literal["1.0"]
    id: UUID
    source: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    time: AwareDatetime
    datacontenttype: Annotated[str, Field(max_length=MAX_TEXT)] | None = None

    @property
    def event_id(self) -> UUID:
        return self.id

    @property
    def event_time(self) -> datetime:
        return self.time


class JobCreated(_Envelope):
    type: Literal["utxoiq.backfill.job.created"]
    data: JobCreatedData


class JobProgress(_Envelope):
    type: Literal["utxoiq.backfill.job.progress"]
    data: JobProgressData


class JobCompleted(_Envelope):
    type: Literal["utxoiq.backfill.job.completed"]
    data: JobCompletedData


class JobFailed(_Envelope):
    type: Literal["utxoiq.backfill.job.failed"]
    data: JobFailedData


class FeedbackSubmitted(_Envelope):
    type: Literal["utxoiq.insight.feedback.submitted"]
    data: FeedbackSubmittedData


class MetricRecorded(_Envelope):
    type: Literal["utxoiq.system.metric.recorded"]
    data: MetricRecordedData


JobEvent = Annotated[
    JobCreated | JobProgress | JobCompleted | JobFailed, Field(discriminator="type")
]
Event = Annotated[
    JobCreated | JobProgress | JobCompleted | JobFailed | FeedbackSubmitted | MetricRecorded,
    Field(discriminator="type"),
]
AnyEvent = JobCreated | JobProgress | JobCompleted | JobFailed | FeedbackSubmitted | MetricRecorded

EVENT_MODELS: tuple[type[_Envelope], ...] = (
    JobCreated,
    JobProgress,
    JobCompleted,
    JobFailed,
    FeedbackSubmitted,
    MetricRecorded,
)


def event_type_of(model: type[_Envelope]) -> str:
    """The CloudEvents ``type`` string a model accepts."""
    annotation: Any = model.model_fields["type"].annotation
    return str(annotation.__args__[0])
