"""The read side's statements keep to the shapes their indexes serve."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import ClauseElement
from sqlalchemy.dialects import postgresql

from consumer.readside import queries
from consumer.readside.buckets import segments
from consumer.readside.models import BackfillJob, Interval

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _sql(statement: ClauseElement) -> str:
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    return " ".join(str(statement.compile(dialect=dialect)).split())


def test_job_pages_read_only_the_model_columns_newest_first() -> None:
    sql = _sql(queries.job_page("failed", None, (AT, uuid.uuid4()), 11))
    assert "(backfill_jobs.created_at, backfill_jobs.job_id) <" in sql
    assert "ORDER BY backfill_jobs.created_at DESC, backfill_jobs.job_id DESC LIMIT" in sql
    selected = sql.split(" FROM ")[0]
    assert selected.count("backfill_jobs.") == len(BackfillJob.model_fields)


def test_feedback_keyset_follows_the_index_the_filters_pick() -> None:
    after = (AT, "insight", "user")
    by_insight = _sql(queries.feedback_page("i", None, None, None, after, 5))
    by_user = _sql(queries.feedback_page(None, "u", None, None, after, 5))
    unfiltered = _sql(queries.feedback_page(None, None, None, None, after, 5))
    assert "(insight_feedback.submitted_at, insight_feedback.user_id) <" in by_insight
    assert "(insight_feedback.submitted_at, insight_feedback.insight_id) <" in by_user
    assert (
        "(insight_feedback.submitted_at, insight_feedback.insight_id, insight_feedback.user_id) <"
        in unfiltered
    )


def test_aggregates_read_the_rollup_for_whole_buckets_and_raw_samples_at_edges() -> None:
    parts = segments(AT.replace(hour=5), AT.replace(day=4, hour=7), Interval.DAY)
    sql = _sql(queries.metric_buckets("s", "t", parts, Interval.DAY))
    assert sql.count("FROM system_metrics_daily") == 1
    assert sql.count("FROM system_metrics ") == 2
    assert "system_metrics_hourly" not in sql
    assert sql.endswith("ORDER BY bucket_start, unit")
