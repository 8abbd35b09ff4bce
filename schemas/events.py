"""Pydantic models of the CloudEvents envelope and the six utxoIQ event types.

The models follow ARCHITECTURE.md to the letter. They are tolerant readers: unknown
top-level attributes (CloudEvents extensions) and unknown fields inside ``data``, at any
depth, are accepted and kept aside in ``model_extra``, so a producer can add an optional
field before its consumers know it (``schemas.unknown_fields`` names them). Every field
the contract lists is required and every scalar is strict (a rating of ``"4"`` or ``4.0``
is refused, not coerced). No text holds U+0000 and ``time`` in UTC falls within the
years 1 to 9999, so whatever validates here can be stored by PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
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


def _usable_or_none(value: Any) -> str | None:
    """``dataschema`` never refuses an event: a value that is not usable text is dropped."""
    if isinstance(value, str) and len(value) <= MAX_TEXT and "\x00" not in value:
        return value
    return None


NUL_FREE = r"^[^\x00]*$"
"""The pattern of every text of the contract: PostgreSQL ``text`` cannot hold U+0000."""
NUL_MESSAGE = "must not contain U+0000 (PostgreSQL text cannot hold it)"
"""What ``schemas.codec`` says when a text breaks ``NUL_FREE``."""

NulFree = Field(pattern=NUL_FREE)
"""Refuses U+0000 in a text (checked by the validator's own regular expressions, so it
costs next to nothing per field)."""

ShortText = Annotated[str, Field(max_length=MAX_TEXT), NulFree]


def in_utc(moment: datetime) -> datetime:
    """``moment`` with ``datetime.timezone.utc`` as its time zone. asyncpg's encoder moves
    every time it writes to that object with ``astimezone``, which returns at once only
    when the time already has it (not pydantic's own ``TzInfo``, even at offset zero)."""
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


EARLIEST = datetime(1, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)
EventTime = Annotated[AwareDatetime, Field(ge=EARLIEST, le=LATEST), AfterValidator(in_utc)]
"""A time with an offset whose UTC form Python (and so the writers) can hold: a valid
RFC 3339 time such as ``9999-12-31T23:59:59-12:00`` lies past the last one. Parsed, it
is moved to UTC (the same moment)."""
UTC_RANGE_MESSAGE = "in UTC falls outside the years 1 to 9999"
"""What ``schemas.codec`` says when a time breaks ``EventTime``'s bounds."""

BlockHeight = Annotated[int, Field(ge=0, le=INT64_MAX)]
Sequence = Annotated[int, Field(ge=0, le=INT64_MAX)]


class EventData(BaseModel):
    """Base of every `data` model and of any object nested in one: strict, frozen,
    tolerant of unknown fields, and every float finite."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True, allow_inf_nan=False)


class JobCreatedData(EventData):
    job_id: UUID
    job_type: Annotated[str, Field(min_length=1, max_length=MAX_TEXT), NulFree]
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


class JobProgressData(EventData):
    job_id: UUID
    current_block: Annotated[int, Field(ge=-INT64_MAX, le=INT64_MAX)]
    sequence: Sequence


class JobCompletedData(EventData):
    job_id: UUID
    sequence: Sequence


class JobFailedData(EventData):
    job_id: UUID
    error_message: Annotated[str, Field(max_length=MAX_ERROR_MESSAGE), NulFree]
    sequence: Sequence


class FeedbackSubmittedData(EventData):
    insight_id: ShortText
    user_id: ShortText
    rating: Annotated[int, Field(ge=1, le=5)]
    comment: Annotated[str, Field(max_length=MAX_COMMENT), NulFree] | None
    flags: list[FeedbackFlag]

    @field_validator("flags")
    @classmethod
    def _flags_are_distinct(cls, flags: list[str]) -> list[str]:
        if len(set(flags)) != len(flags):
            raise ValueError("flags must be distinct")
        return flags


class MetricRecordedData(EventData):
    service_name: ShortText
    metric_type: ShortText
    value: Annotated[float, Field(allow_inf_nan=False)]
    unit: ShortText


class Envelope(BaseModel):
    """CloudEvents 1.0 structured-mode attributes shared by every event.

    ``dataschema`` may name the JSON Schema of the event's type (its ``$id``, see
    ``schemas.registry.schema_id``); it is informative only, so a value that is not
    usable text is dropped rather than refused."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True, allow_inf_nan=False)

    specversion: Literal["1.0"]
    id: UUID
    source: Annotated[str, Field(min_length=1, max_length=MAX_TEXT), NulFree]
    time: EventTime
    datacontenttype: Annotated[str, Field(max_length=MAX_TEXT), NulFree] | None = None
    dataschema: Annotated[str | None, BeforeValidator(_usable_or_none)] = None

    @property
    def event_id(self) -> UUID:
        return self.id

    @property
    def event_time(self) -> datetime:
        return self.time


class JobCreated(Envelope):
    type: Literal["utxoiq.backfill.job.created"]
    data: JobCreatedData


class JobProgress(Envelope):
    type: Literal["utxoiq.backfill.job.progress"]
    data: JobProgressData


class JobCompleted(Envelope):
    type: Literal["utxoiq.backfill.job.completed"]
    data: JobCompletedData


class JobFailed(Envelope):
    type: Literal["utxoiq.backfill.job.failed"]
    data: JobFailedData


class FeedbackSubmitted(Envelope):
    type: Literal["utxoiq.insight.feedback.submitted"]
    data: FeedbackSubmittedData


class MetricRecorded(Envelope):
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

EVENT_MODELS: tuple[type[Envelope], ...] = (
    JobCreated,
    JobProgress,
    JobCompleted,
    JobFailed,
    FeedbackSubmitted,
    MetricRecorded,
)


def event_type_of(model: type[Envelope]) -> str:
    """The CloudEvents ``type`` string a model accepts."""
    annotation: Any = model.model_fields["type"].annotation
    return str(annotation.__args__[0])
