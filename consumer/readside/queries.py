"""The read side's statements, built with SQLAlchemy Core (pure: no I/O here).

Each one is shaped to walk an index: jobs and feedback pages use keyset conditions in
the index's own column order, metric reads stay within one series' time range.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, TypeAlias
from uuid import UUID

from sqlalchemy import (
    Boolean,
    ColumnElement,
    CompoundSelect,
    DateTime,
    Numeric,
    Select,
    Table,
    Text,
    and_,
    any_,
    cast,
    func,
    literal,
    select,
    true,
    tuple_,
    union_all,
)

from consumer.db.tables import (
    FLAGS,
    backfill_jobs,
    insight_feedback,
    system_metrics,
    system_metrics_daily,
    system_metrics_hourly,
)
from consumer.readside.buckets import Segment
from consumer.readside.models import (
    BackfillJob,
    BucketSource,
    Feedback,
    Interval,
    MetricSample,
    Result,
)

Query: TypeAlias = Select[*tuple[Any, ...]]
CompoundQuery: TypeAlias = CompoundSelect[*tuple[Any, ...]]

ROLLUPS = {Interval.HOUR: system_metrics_hourly, Interval.DAY: system_metrics_daily}
JOBS = backfill_jobs.c
FEEDBACK = insight_feedback.c
METRICS = system_metrics.c


def _columns(table: Table, model: type[Result]) -> list[ColumnElement[Any]]:
    """The table's columns that ``model`` holds, so new columns never break a read."""
    return [table.c[name] for name in model.model_fields]


def job_by_id(job_id: UUID) -> Query:
    return select(*_columns(backfill_jobs, BackfillJob)).where(JOBS.job_id == job_id)


def job_page(
    status: str | None, job_type: str | None, after: tuple[datetime, UUID] | None, limit: int
) -> Query:
    """Jobs newest first (``created_at``, then ``job_id``, both descending)."""
    query = select(*_columns(backfill_jobs, BackfillJob))
    if status is not None:
        query = query.where(JOBS.status == status)
    if job_type is not None:
        query = query.where(JOBS.job_type == job_type)
    if after is not None:
        query = query.where(tuple_(JOBS.created_at, JOBS.job_id) < tuple_(*after))
    return query.order_by(JOBS.created_at.desc(), JOBS.job_id.desc()).limit(limit)


def _feedback_after(
    insight_id: str | None, user_id: str | None, after: tuple[datetime, str, str]
) -> ColumnElement[bool]:
    """Rows past the cursor, in the column order of the index the filters pick."""
    at, insight, user = after
    if insight_id is not None and user_id is None:
        return tuple_(FEEDBACK.submitted_at, FEEDBACK.user_id) < tuple_(at, user)
    if user_id is not None and insight_id is None:
        return tuple_(FEEDBACK.submitted_at, FEEDBACK.insight_id) < tuple_(at, insight)
    keys = (FEEDBACK.submitted_at, FEEDBACK.insight_id, FEEDBACK.user_id)
    return tuple_(*keys) < tuple_(at, insight, user)


def feedback_page(
    insight_id: str | None,
    user_id: str | None,
    since: datetime | None,
    until: datetime | None,
    after: tuple[datetime, str, str] | None,
    limit: int,
) -> Query:
    """Feedback newest first: ``submitted_at``, ``insight_id``, ``user_id`` descending."""
    conditions: list[ColumnElement[bool]] = []
    if insight_id is not None:
        conditions.append(FEEDBACK.insight_id == insight_id)
    if user_id is not None:
        conditions.append(FEEDBACK.user_id == user_id)
    if since is not None:
        conditions.append(FEEDBACK.submitted_at >= since)
    if until is not None:
        conditions.append(FEEDBACK.submitted_at < until)
    if after is not None:
        conditions.append(_feedback_after(insight_id, user_id, after))
    order = (FEEDBACK.submitted_at.desc(), FEEDBACK.insight_id.desc(), FEEDBACK.user_id.desc())
    return (
        select(*_columns(insight_feedback, Feedback))
        .where(and_(true(), *conditions))
        .order_by(*order)
        .limit(limit)
    )


def feedback_stats(insight_id: str) -> Query:
    """One row: count, average, a count per rating, with a comment, and per flag."""
    columns: list[ColumnElement[Any]] = [
        func.count().label("count"),
        func.avg(FEEDBACK.rating).label("average"),
    ]
    for rating in range(1, 6):
        columns.append(func.count().filter(FEEDBACK.rating == rating).label(f"rating_{rating}"))
    has_comment = and_(FEEDBACK.comment.is_not(None), FEEDBACK.comment != "")
    columns.append(func.count().filter(has_comment).label("with_comment"))
    for flag in FLAGS:
        columns.append(
            func.count().filter(literal(flag) == any_(FEEDBACK.flags)).label(f"flag_{flag}")
        )
    return select(*columns).where(FEEDBACK.insight_id == insight_id)


def _series(service_name: str, metric_type: str) -> ColumnElement[bool]:
    return and_(METRICS.service_name == service_name, METRICS.metric_type == metric_type)


def metric_samples(
    service_name: str, metric_type: str, start: datetime, end: datetime, limit: int
) -> Query:
    """Raw samples of one series in ``[start, end)``, oldest first."""
    return (
        select(*_columns(system_metrics, MetricSample))
        .where(_series(service_name, metric_type))
        .where(METRICS.recorded_at >= start, METRICS.recorded_at < end)
        .order_by(METRICS.recorded_at, METRICS.event_id)
        .limit(limit)
    )


def _whole_buckets(
    service_name: str, metric_type: str, segment: Segment, interval: Interval
) -> Query:
    rollup = ROLLUPS[interval].c
    return select(
        rollup.bucket_start,
        rollup.unit,
        rollup.sample_count,
        rollup.value_sum,
        rollup.value_min,
        rollup.value_max,
        literal(False, Boolean).label("partial"),
        literal(BucketSource.ROLLUP.value).label("source"),
    ).where(
        rollup.service_name == service_name,
        rollup.metric_type == metric_type,
        rollup.bucket_start >= segment.start,
        rollup.bucket_start < segment.end,
    )


def _partial_bucket(service_name: str, metric_type: str, segment: Segment) -> Query:
    return (
        select(
            literal(segment.bucket, DateTime(timezone=True)).label("bucket_start"),
            METRICS.unit,
            func.count().label("sample_count"),
            func.sum(cast(cast(METRICS.value, Text), Numeric)).label("value_sum"),
            func.min(METRICS.value).label("value_min"),
            func.max(METRICS.value).label("value_max"),
            literal(True, Boolean).label("partial"),
            literal(BucketSource.RAW.value).label("source"),
        )
        .where(_series(service_name, metric_type))
        .where(METRICS.recorded_at >= segment.start, METRICS.recorded_at < segment.end)
        .group_by(METRICS.unit)
    )


def metric_buckets(
    service_name: str, metric_type: str, parts: Sequence[Segment], interval: Interval
) -> CompoundQuery:
    """Per bucket and unit: whole buckets from the rollup, partial ones from raw samples."""
    selects = [
        _whole_buckets(service_name, metric_type, part, interval)
        if part.whole
        else _partial_bucket(service_name, metric_type, part)
        for part in parts
    ]
    return union_all(*selects).order_by("bucket_start", "unit")
