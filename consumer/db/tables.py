"""SQLAlchemy Core definitions of every table; the Alembic migrations create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from consumer.vocabulary import DeadLetterStatus, JobStatus, Stage

metadata = MetaData(
    naming_convention={
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    }
)

JOB_STATUSES = tuple(status.value for status in JobStatus)
DEAD_LETTER_STATUSES = tuple(status.value for status in DeadLetterStatus)
DEAD_LETTER_STAGES = tuple(stage.value for stage in Stage)
BREAKER_STATES = ("closed", "open", "half_open")
FLAGS = ("inaccurate", "misleading", "outdated", "spam", "offensive", "other")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _tstz(name: str, nullable: bool = False, **kwargs: object) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable, **kwargs)  # type: ignore[arg-type]


backfill_jobs = Table(
    "backfill_jobs",
    metadata,
    Column("job_id", UUID(as_uuid=True), primary_key=True),
    Column("job_type", Text, nullable=False),
    Column("start_block", BigInteger, nullable=False),
    Column("end_block", BigInteger, nullable=False),
    Column("current_block", BigInteger),
    Column("status", Text, nullable=False),
    Column("error_message", Text),
    Column("created_by", Text, nullable=False),
    Column("sequence", BigInteger, nullable=False),
    Column("progress_sequence", BigInteger, nullable=False, server_default=text("0")),
    _tstz("created_at"),
    _tstz("updated_at"),
    _tstz("completed_at", nullable=True),
    CheckConstraint("length(job_type) > 0", name="job_type_not_empty"),
    CheckConstraint("start_block >= 0", name="start_block_not_negative"),
    CheckConstraint("end_block >= start_block", name="block_range_ordered"),
    CheckConstraint(
        "current_block IS NULL OR current_block BETWEEN start_block AND end_block",
        name="current_block_in_range",
    ),
    CheckConstraint(_in("status", JOB_STATUSES), name="status_known"),
    CheckConstraint("sequence >= 0", name="sequence_not_negative"),
    Index("ix_backfill_jobs_created", text("created_at DESC"), text("job_id DESC")),
    Index(
        "ix_backfill_jobs_status_created", "status", text("created_at DESC"), text("job_id DESC")
    ),
    Index(
        "ix_backfill_jobs_type_created", "job_type", text("created_at DESC"), text("job_id DESC")
    ),
)

insight_feedback = Table(
    "insight_feedback",
    metadata,
    Column("insight_id", Text, nullable=False),
    Column("user_id", Text, nullable=False),
    Column("rating", SmallInteger, nullable=False),
    Column("comment", Text),
    Column("flags", ARRAY(Text), nullable=False, server_default=text("'{}'::text[]")),
    _tstz("submitted_at"),
    Column("event_id", UUID(as_uuid=True), nullable=False),
    _tstz("updated_at", server_default=func.now()),
    PrimaryKeyConstraint("insight_id", "user_id"),
    CheckConstraint("rating BETWEEN 1 AND 5", name="rating_1_to_5"),
    CheckConstraint("comment IS NULL OR char_length(comment) <= 4000", name="comment_length"),
    CheckConstraint(
        "flags <@ ARRAY[" + ", ".join(repr(f) for f in FLAGS) + "]::text[]", name="flags_known"
    ),
    Index("ix_insight_feedback_insight_submitted", "insight_id", "submitted_at", "user_id"),
    Index("ix_insight_feedback_user_submitted", "user_id", "submitted_at", "insight_id"),
    Index("ix_insight_feedback_submitted", "submitted_at", "insight_id", "user_id"),
)

system_metrics = Table(
    "system_metrics",
    metadata,
    Column("event_id", UUID(as_uuid=True), nullable=False),
    Column("service_name", Text, nullable=False),
    Column("metric_type", Text, nullable=False),
    Column("value", Double, nullable=False),
    Column("unit", Text, nullable=False),
    _tstz("recorded_at"),
    _tstz("ingested_at", server_default=func.now()),
    PrimaryKeyConstraint("recorded_at", "event_id"),
    Index("ix_system_metrics_series_time", "service_name", "metric_type", "recorded_at"),
    postgresql_partition_by="RANGE (recorded_at)",
)
"""Range-partitioned by day on ``recorded_at``: its partitions are made and dropped by
``consumer.metrics.maintain`` and are not modelled here."""


def _rollup(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("service_name", Text, nullable=False),
        Column("metric_type", Text, nullable=False),
        _tstz("bucket_start"),
        Column("unit", Text, nullable=False),
        Column("sample_count", BigInteger, nullable=False),
        Column("value_sum", Numeric, nullable=False),
        Column("value_min", Double, nullable=False),
        Column("value_max", Double, nullable=False),
        PrimaryKeyConstraint("service_name", "metric_type", "bucket_start", "unit"),
        CheckConstraint("sample_count > 0", name="count_positive"),
        CheckConstraint("value_min <= value_max", name="min_le_max"),
    )


system_metrics_hourly = _rollup("system_metrics_hourly")
system_metrics_daily = _rollup("system_metrics_daily")

ingest_offsets = Table(
    "ingest_offsets",
    metadata,
    Column("group_id", Text, nullable=False),
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("next_offset", BigInteger, nullable=False),
    _tstz("updated_at", server_default=func.now()),
    PrimaryKeyConstraint("group_id", "topic", "partition"),
    CheckConstraint("next_offset >= 0", name="next_offset_not_negative"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("topic", Text, nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("consumer_group", Text, nullable=False),
    Column("stage", Text, nullable=False),
    Column("error_class", Text, nullable=False),
    Column("error_message", Text, nullable=False),
    _tstz("failed_at"),
    Column("status", Text, nullable=False, server_default=text("'pending'")),
    Column("attempts", Integer, nullable=False, server_default=text("1")),
    Column("redrive_count", Integer, nullable=False, server_default=text("0")),
    Column("record_key", LargeBinary),
    Column("record_value", LargeBinary),
    Column("record_headers", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    _tstz("record_timestamp", nullable=True),
    Column("event_id", Text),
    Column("event_type", Text),
    Column("dlq_partition", Integer),
    Column("dlq_offset", BigInteger),
    Column("status_reason", Text),
    _tstz("updated_at", server_default=func.now()),
    PrimaryKeyConstraint("topic", "partition", "offset"),
    CheckConstraint(_in("stage", DEAD_LETTER_STAGES), name="stage_known"),
    CheckConstraint(_in("status", DEAD_LETTER_STATUSES), name="status_known"),
    Index("ix_dead_letters_status_failed", "status", "failed_at"),
    Index("ix_dead_letters_failed", "failed_at"),
    Index("ix_dead_letters_topic_stage_class", "topic", "stage", "error_class"),
    Index("ix_dead_letters_key", "record_key"),
)

breaker_states = Table(
    "breaker_states",
    metadata,
    Column("consumer_group", Text, nullable=False),
    Column("member", Text, nullable=False),
    Column("pipeline", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("reason", Text, nullable=False, server_default=text("''")),
    Column("cooldown_s", Double, nullable=False),
    _tstz("changed_at", server_default=func.now()),
    PrimaryKeyConstraint("consumer_group", "member"),
    CheckConstraint(_in("state", BREAKER_STATES), name="state_known"),
)
"""Each running member's dead-letter breaker, as it last changed (``utxoiq breaker status``)."""

breaker_closes = Table(
    "breaker_closes",
    metadata,
    Column("consumer_group", Text, primary_key=True),
    Column("requests", BigInteger, nullable=False),
    _tstz("requested_at", server_default=func.now()),
)
"""Operators' ``utxoiq breaker close`` per consumer group: a member whose breaker is open
closes it when ``requests`` grows past what it read when it opened."""
