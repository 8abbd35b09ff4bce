"""``DatabaseService``: the platform's queries over jobs, feedback and metrics.

    async with DatabaseService() as db:
        job = await db.get_backfill_job(job_id)

Every method checks its arguments first (``InvalidQuery``, nothing sent), then runs one
statement on a connection borrowed from the process's shared engine. Driver failures
surface as the read-side error tree (``consumer.readside.errors``), chained.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from sqlalchemy import Executable, RowMapping
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from consumer.db.tables import FLAGS
from consumer.readside import arguments as check
from consumer.readside import queries
from consumer.readside.buckets import answerable, bucket_count, segments
from consumer.readside.cursors import cursor_time, decode_cursor, encode_cursor, scope_of
from consumer.readside.engine import shared_engine
from consumer.readside.errors import InvalidQuery, RecordNotFound, map_driver_error
from consumer.readside.models import (
    BackfillJob,
    Feedback,
    FeedbackPage,
    FeedbackStats,
    Interval,
    JobPage,
    MetricAggregate,
    MetricBucket,
    MetricSample,
    MetricSamples,
)
from consumer.settings import DatabaseSettings, MetricsRetentionSettings, ReadSideSettings

DEFAULT_LIMIT = 50
MAX_BUCKETS = 10_000
"""An aggregate may span at most this many buckets (about 13 months of hours)."""

DRIVER_ERRORS = (SQLAlchemyError, OSError, TimeoutError)


class DatabaseService:
    """Read access for the platform; the engine is shared by the whole process.

    Leaving the ``async with`` block closes nothing, since other services share the
    pool; ``consumer.readside.engine.dispose_engines`` closes it when the process ends.
    """

    def __init__(
        self,
        database: DatabaseSettings | None = None,
        read: ReadSideSettings | None = None,
        *,
        engine: AsyncEngine | None = None,
        retention: MetricsRetentionSettings | None = None,
    ) -> None:
        self._engine = engine or shared_engine(
            database or DatabaseSettings(), read or ReadSideSettings()
        )
        self._raw_retention = timedelta(
            days=(retention or MetricsRetentionSettings()).raw_retention_days
        )

    def raw_since(self) -> datetime:
        """The oldest sample time still kept raw, now."""
        return datetime.now(UTC) - self._raw_retention

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    async def _fetch(self, statement: Executable) -> Sequence[RowMapping]:
        try:
            async with self._engine.connect() as conn:
                result = await conn.execute(statement)
                return result.mappings().all()
        except DRIVER_ERRORS as exc:
            raise map_driver_error(exc) from exc

    async def get_backfill_job(self, job_id: UUID | str) -> BackfillJob:
        """The job with this id; ``RecordNotFound`` when there is none."""
        key = check.check_uuid("job_id", job_id)
        rows = await self._fetch(queries.job_by_id(key))
        if not rows:
            raise RecordNotFound(f"no backfill job {key}")
        return BackfillJob.model_validate(dict(rows[0]))

    async def list_backfill_jobs(
        self,
        status: str | None = None,
        job_type: str | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> JobPage:
        """Jobs newest first (ties on ``created_at`` ordered by ``job_id``), one page."""
        status = check.check_status(status)
        job_type = check.check_text("job_type", job_type)
        check.check_limit(limit)
        scope = scope_of("jobs", (status, job_type))
        after = _job_key(decode_cursor(cursor, scope, 2)) if cursor is not None else None
        rows = await self._fetch(queries.job_page(status, job_type, after, limit + 1))
        items = [BackfillJob.model_validate(dict(row)) for row in rows[:limit]]
        last = items[-1] if len(rows) > limit else None
        next_cursor = encode_cursor(scope, (last.created_at, str(last.job_id))) if last else None
        return JobPage(items=items, next_cursor=next_cursor)

    async def get_feedback_stats(self, insight_id: str) -> FeedbackStats:
        """Count, average, distribution 1..5, comments and flags of one insight's feedback."""
        check.check_text("insight_id", insight_id)
        row = (await self._fetch(queries.feedback_stats(insight_id)))[0]
        return _stats(insight_id, row)

    async def list_feedback(
        self,
        insight_id: str | None = None,
        user_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = DEFAULT_LIMIT,
        cursor: str | None = None,
    ) -> FeedbackPage:
        """Feedback submitted in ``[since, until)``, newest first, one page."""
        check.check_text("insight_id", insight_id)
        check.check_text("user_id", user_id)
        check.check_range(since, until, ("since", "until"))
        check.check_limit(limit)
        scope = scope_of("feedback", (insight_id, user_id, since, until))
        after = _feedback_key(decode_cursor(cursor, scope, 3)) if cursor is not None else None
        statement = queries.feedback_page(insight_id, user_id, since, until, after, limit + 1)
        rows = await self._fetch(statement)
        items = [Feedback.model_validate(dict(row)) for row in rows[:limit]]
        last = items[-1] if len(rows) > limit else None
        next_cursor = (
            encode_cursor(scope, (last.submitted_at, last.insight_id, last.user_id))
            if last
            else None
        )
        return FeedbackPage(items=items, next_cursor=next_cursor)

    async def get_metrics(
        self,
        service_name: str,
        metric_type: str,
        start: datetime,
        end: datetime,
        limit: int = DEFAULT_LIMIT,
    ) -> MetricSamples:
        """Raw samples of one series recorded in ``[start, end)``, oldest first."""
        _check_series(service_name, metric_type, start, end)
        check.check_limit(limit)
        statement = queries.metric_samples(service_name, metric_type, start, end, limit + 1)
        rows = await self._fetch(statement)
        return MetricSamples(
            service_name=service_name,
            metric_type=metric_type,
            start=start,
            end=end,
            samples=[MetricSample.model_validate(dict(row)) for row in rows[:limit]],
            truncated=len(rows) > limit,
            raw_since=self.raw_since(),
        )

    async def aggregate_metrics(
        self,
        service_name: str,
        metric_type: str,
        start: datetime,
        end: datetime,
        interval: Interval | str = Interval.HOUR,
    ) -> MetricAggregate:
        """Per UTC bucket and unit over ``[start, end)``: count, sum, average, min, max.

        Whole buckets come from the rollup tables; a bucket the range covers only in part
        (at either end) is computed from the raw samples inside the range, unless it
        starts before the raw retention: then it is withheld (named, not answered).
        """
        _check_series(service_name, metric_type, start, end)
        width = check.check_interval(interval)
        if bucket_count(start, end, width) > MAX_BUCKETS:
            raise InvalidQuery(f"the range spans more than {MAX_BUCKETS} {width.value} buckets")
        raw_since = self.raw_since()
        parts, withheld = answerable(segments(start, end, width), raw_since)
        rows = (
            await self._fetch(queries.metric_buckets(service_name, metric_type, parts, width))
            if parts
            else []
        )
        return MetricAggregate(
            service_name=service_name,
            metric_type=metric_type,
            interval=width,
            start=start,
            end=end,
            buckets=[_bucket(row) for row in rows],
            raw_since=raw_since,
            withheld=withheld,
        )


def _check_series(service_name: str, metric_type: str, start: datetime, end: datetime) -> None:
    check.check_name("service_name", service_name)
    check.check_name("metric_type", metric_type)
    check.check_aware("start", start)
    check.check_aware("end", end)
    check.check_range(start, end)


def _job_key(values: list[str]) -> tuple[datetime, UUID]:
    try:
        return cursor_time(values[0]), UUID(values[1])
    except ValueError:
        raise InvalidQuery("cursor is not one this service issued") from None


def _feedback_key(values: list[str]) -> tuple[datetime, str, str]:
    return cursor_time(values[0]), values[1], values[2]


def _stats(insight_id: str, row: RowMapping) -> FeedbackStats:
    average = row["average"]
    return FeedbackStats(
        insight_id=insight_id,
        count=row["count"],
        average_rating=float(average) if average is not None else None,
        distribution={rating: row[f"rating_{rating}"] for rating in range(1, 6)},
        with_comment=row["with_comment"],
        flags={flag: row[f"flag_{flag}"] for flag in FLAGS},
    )


def _bucket(row: RowMapping) -> MetricBucket:
    count: Any = row["sample_count"]
    return MetricBucket(
        bucket_start=row["bucket_start"],
        unit=row["unit"],
        count=count,
        total=row["value_sum"],
        average=float(row["value_sum"] / count),
        minimum=row["value_min"],
        maximum=row["value_max"],
        partial=row["partial"],
        source=row["source"],
    )
