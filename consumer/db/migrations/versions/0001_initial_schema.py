"""Initial schema: jobs, feedback, metrics and rollups, positions, dead letters.

Revision ID: 0001
Revises:
Create Date: 2026-11-28 20:23:15.890817
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "backfill_jobs",
        sa.Column("job_id", sa.UUID(), nullable=False),
        sa.Column("job_type", sa.Text(), nullable=False),
        sa.Column("start_block", sa.BigInteger(), nullable=False),
        sa.Column("end_block", sa.BigInteger(), nullable=False),
        sa.Column("current_block", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("sequence", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'completed', 'failed')",
            name=op.f("ck_backfill_jobs_status_known"),
        ),
        sa.CheckConstraint(
            "current_block IS NULL OR current_block BETWEEN start_block AND end_block",
            name=op.f("ck_backfill_jobs_current_block_in_range"),
        ),
        sa.CheckConstraint(
            "end_block >= start_block", name=op.f("ck_backfill_jobs_block_range_ordered")
        ),
        sa.CheckConstraint(
            "length(job_type) > 0", name=op.f("ck_backfill_jobs_job_type_not_empty")
        ),
        sa.CheckConstraint("sequence >= 0", name=op.f("ck_backfill_jobs_sequence_not_negative")),
        sa.CheckConstraint(
            "start_block >= 0", name=op.f("ck_backfill_jobs_start_block_not_negative")
        ),
        sa.PrimaryKeyConstraint("job_id", name=op.f("pk_backfill_jobs")),
    )
    op.create_index(
        "ix_backfill_jobs_created",
        "backfill_jobs",
        [sa.literal_column("created_at DESC"), sa.literal_column("job_id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_backfill_jobs_status_created",
        "backfill_jobs",
        ["status", sa.literal_column("created_at DESC"), sa.literal_column("job_id DESC")],
        unique=False,
    )
    op.create_index(
        "ix_backfill_jobs_type_created",
        "backfill_jobs",
        ["job_type", sa.literal_column("created_at DESC"), sa.literal_column("job_id DESC")],
        unique=False,
    )
    op.create_table(
        "dead_letters",
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("offset", sa.BigInteger(), nullable=False),
        sa.Column("consumer_group", sa.Text(), nullable=False),
        sa.Column("stage", sa.Text(), nullable=False),
        sa.Column("error_class", sa.Text(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.Text(), server_default=sa.text("'pending'"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("redrive_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("record_key", sa.LargeBinary(), nullable=True),
        sa.Column("record_value", sa.LargeBinary(), nullable=True),
        sa.Column(
            "record_headers",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("record_timestamp", sa.DateTime(timezone=True), nullable=True),
        sa.Column("event_id", sa.Text(), nullable=True),
        sa.Column("event_type", sa.Text(), nullable=True),
        sa.Column("dlq_partition", sa.Integer(), nullable=True),
        sa.Column("dlq_offset", sa.BigInteger(), nullable=True),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "stage IN ('decode', 'validate', 'apply')", name=op.f("ck_dead_letters_stage_known")
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'redriven', 'discarded')",
            name=op.f("ck_dead_letters_status_known"),
        ),
        sa.PrimaryKeyConstraint("topic", "partition", "offset", name=op.f("pk_dead_letters")),
    )
    op.create_index("ix_dead_letters_failed", "dead_letters", ["failed_at"], unique=False)
    op.create_index("ix_dead_letters_key", "dead_letters", ["record_key"], unique=False)
    op.create_index(
        "ix_dead_letters_status_failed", "dead_letters", ["status", "failed_at"], unique=False
    )
    op.create_index(
        "ix_dead_letters_topic_stage_class",
        "dead_letters",
        ["topic", "stage", "error_class"],
        unique=False,
    )
    op.create_table(
        "ingest_offsets",
        sa.Column("group_id", sa.Text(), nullable=False),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("partition", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "next_offset >= 0", name=op.f("ck_ingest_offsets_next_offset_not_negative")
        ),
        sa.PrimaryKeyConstraint("group_id", "topic", "partition", name=op.f("pk_ingest_offsets")),
    )
    op.create_table(
        "insight_feedback",
        sa.Column("insight_id", sa.Text(), nullable=False),
        sa.Column("user_id", sa.Text(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column(
            "flags",
            postgresql.ARRAY(sa.Text()),
            server_default=sa.text("'{}'::text[]"),
            nullable=False,
        ),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "flags <@ ARRAY['inaccurate', 'misleading', 'outdated', 'spam', 'offensive', "
            "'other']::text[]",
            name=op.f("ck_insight_feedback_flags_known"),
        ),
        sa.CheckConstraint(
            "comment IS NULL OR char_length(comment) <= 4000",
            name=op.f("ck_insight_feedback_comment_length"),
        ),
        sa.CheckConstraint(
            "rating BETWEEN 1 AND 5", name=op.f("ck_insight_feedback_rating_1_to_5")
        ),
        sa.PrimaryKeyConstraint("insight_id", "user_id", name=op.f("pk_insight_feedback")),
    )
    op.create_index(
        "ix_insight_feedback_insight_submitted",
        "insight_feedback",
        ["insight_id", "submitted_at", "user_id"],
        unique=False,
    )
    op.create_index(
        "ix_insight_feedback_submitted",
        "insight_feedback",
        ["submitted_at", "insight_id", "user_id"],
        unique=False,
    )
    op.create_index(
        "ix_insight_feedback_user_submitted",
        "insight_feedback",
        ["user_id", "submitted_at", "insight_id"],
        unique=False,
    )
    op.create_table(
        "system_metrics",
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("service_name", sa.Text(), nullable=False),
        sa.Column("metric_type", sa.Text(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "ingested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_system_metrics")),
    )
    op.create_index(
        "ix_system_metrics_series_time",
        "system_metrics",
        ["service_name", "metric_type", "recorded_at"],
        unique=False,
    )
    op.create_table(
        "system_metrics_daily",
        sa.Column("service_name", sa.Text(), nullable=False),
        sa.Column("metric_type", sa.Text(), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("sample_count", sa.BigInteger(), nullable=False),
        sa.Column("value_sum", sa.Double(), nullable=False),
        sa.Column("value_min", sa.Double(), nullable=False),
        sa.Column("value_max", sa.Double(), nullable=False),
        sa.CheckConstraint("sample_count > 0", name=op.f("ck_system_metrics_daily_count_positive")),
        sa.CheckConstraint(
            "value_min <= value_max", name=op.f("ck_system_metrics_daily_min_le_max")
        ),
        sa.PrimaryKeyConstraint(
            "service_name",
            "metric_type",
            "bucket_start",
            "unit",
            name=op.f("pk_system_metrics_daily"),
        ),
    )
    op.create_table(
        "system_metrics_hourly",
        sa.Column("service_name", sa.Text(), nullable=False),
        sa.Column("metric_type", sa.Text(), nullable=False),
        sa.Column("bucket_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("sample_count", sa.BigInteger(), nullable=False),
        sa.Column("value_sum", sa.Double(), nullable=False),
        sa.Column("value_min", sa.Double(), nullable=False),
        sa.Column("value_max", sa.Double(), nullable=False),
        sa.CheckConstraint(
            "sample_count > 0", name=op.f("ck_system_metrics_hourly_count_positive")
        ),
        sa.CheckConstraint(
            "value_min <= value_max", name=op.f("ck_system_metrics_hourly_min_le_max")
        ),
        sa.PrimaryKeyConstraint(
            "service_name",
            "metric_type",
            "bucket_start",
            "unit",
            name=op.f("pk_system_metrics_hourly"),
        ),
    )


def downgrade() -> None:

    op.drop_table("system_metrics_hourly")
    op.drop_table("system_metrics_daily")
    op.drop_index("ix_system_metrics_series_time", table_name="system_metrics")
    op.drop_table("system_metrics")
    op.drop_index("ix_insight_feedback_user_submitted", table_name="insight_feedback")
    op.drop_index("ix_insight_feedback_submitted", table_name="insight_feedback")
    op.drop_index("ix_insight_feedback_insight_submitted", table_name="insight_feedback")
    op.drop_table("insight_feedback")
    op.drop_table("ingest_offsets")
    op.drop_index("ix_dead_letters_topic_stage_class", table_name="dead_letters")
    op.drop_index("ix_dead_letters_status_failed", table_name="dead_letters")
    op.drop_index("ix_dead_letters_key", table_name="dead_letters")
    op.drop_index("ix_dead_letters_failed", table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_index("ix_backfill_jobs_type_created", table_name="backfill_jobs")
    op.drop_index("ix_backfill_jobs_status_created", table_name="backfill_jobs")
    op.drop_index("ix_backfill_jobs_created", table_name="backfill_jobs")
    op.drop_table("backfill_jobs")
