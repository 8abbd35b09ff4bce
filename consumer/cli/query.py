"""``utxoiq query``: the read side's answers as tables, or as JSON with ``--json``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from consumer.cli.addresses import explain_database_failure
from consumer.cli.common import run
from consumer.cli.errors import EXIT_FAILURE, EXIT_USAGE, describe_settings_error, fail, parsed
from consumer.ops.arguments import TIME_FORMS, parse_when
from consumer.readside.engine import dispose_engines
from consumer.readside.errors import (
    DatabaseConnectionError,
    DatabaseError,
    InvalidQuery,
    RecordNotFound,
)
from consumer.readside.models import (
    BackfillJob,
    FeedbackPage,
    FeedbackStats,
    Interval,
    JobPage,
    MetricAggregate,
    MetricSamples,
)
from consumer.readside.service import DEFAULT_LIMIT, DatabaseService
from consumer.settings import DatabaseSettings, ReadSideSettings

app = typer.Typer(
    help="Read jobs, feedback and metrics as the platform sees them.", no_args_is_help=True
)

M = TypeVar("M", bound=BaseModel)
Query = Callable[[DatabaseService], Awaitable[M]]

JSON = typer.Option(False, "--json", help="Print the result as JSON instead of a table.")
LIMIT = typer.Option(DEFAULT_LIMIT, "--limit", "-n", help="Rows per page (1 to 1000).")
CURSOR = typer.Option(None, "--cursor", help="The next_cursor printed by the previous page.")
START = typer.Option(..., "--start", metavar="T", help=f"Range start, inclusive: {TIME_FORMS}.")
END = typer.Option(..., "--end", metavar="T", help=f"Range end, exclusive: {TIME_FORMS}.")


def _service() -> DatabaseService:
    try:
        return DatabaseService(DatabaseSettings(), ReadSideSettings())
    except ValidationError as exc:
        fail(describe_settings_error(exc), EXIT_USAGE)


async def _ask(query: Query[M]) -> M:
    try:
        return await query(_service())
    finally:
        await dispose_engines()


def _answer(query: Query[M]) -> M:
    """Run one query; its known failures become one line on stderr."""
    try:
        return run(_ask(query))
    except InvalidQuery as exc:
        fail(str(exc), EXIT_USAGE)
    except RecordNotFound as exc:
        fail(str(exc), EXIT_FAILURE)
    except DatabaseConnectionError as exc:
        fail(explain_database_failure(exc) or f"database: {exc}", EXIT_FAILURE)
    except DatabaseError as exc:
        fail(f"database: {type(exc).__name__}: {exc}", EXIT_FAILURE)


def _time(name: str, text: str | None) -> datetime | None:
    """The same forms every time option of the CLI takes (``parse_when``)."""
    return parsed(name, parse_when, text)


def _required_time(name: str, text: str) -> datetime:
    moment = _time(name, text)
    assert moment is not None
    return moment


def _show(result: BaseModel, as_json: bool, table: Callable[[], Table], footer: str = "") -> None:
    if as_json:
        typer.echo(result.model_dump_json(indent=2))
        return
    console = Console(width=None if Console().is_terminal else 200)
    console.print(table())
    if footer:
        console.print(footer, highlight=False)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, no_wrap=True)
    for row in rows:
        table.add_row(*(_text(value) for value in row))
    return table


def _next(cursor: str | None) -> str:
    return f"next: --cursor {cursor}" if cursor else "no more pages"


JOB_COLUMNS = ("job_id", "job_type", "status", "current_block", "end_block", "created_at")


def _job_rows(jobs: Sequence[BackfillJob]) -> list[list[Any]]:
    return [[getattr(job, column) for column in JOB_COLUMNS] for job in jobs]


@app.command("job")
def job(job_id: str = typer.Argument(..., help="The job's UUID."), as_json: bool = JSON) -> None:
    """One backfill job (exit 1 when there is none)."""
    found = _answer(lambda db: db.get_backfill_job(job_id))
    pairs = list(found.model_dump().items())
    _show(found, as_json, lambda: _table(f"job {found.job_id}", ("field", "value"), pairs))


@app.command("jobs")
def jobs(
    status: str | None = typer.Option(None, "--status", help="pending|running|completed|failed"),
    job_type: str | None = typer.Option(None, "--type", help="Only jobs of this type."),
    limit: int = LIMIT,
    cursor: str | None = CURSOR,
    as_json: bool = JSON,
) -> None:
    """Backfill jobs, newest first, one page."""
    page: JobPage = _answer(lambda db: db.list_backfill_jobs(status, job_type, limit, cursor))
    rows = _job_rows(page.items)
    _show(
        page, as_json, lambda: _table("backfill jobs", JOB_COLUMNS, rows), _next(page.next_cursor)
    )


@app.command("feedback-stats")
def feedback_stats(
    insight_id: str = typer.Argument(..., help="The insight."), as_json: bool = JSON
) -> None:
    """Count, average, rating distribution, comments and flags of one insight's feedback."""
    stats: FeedbackStats = _answer(lambda db: db.get_feedback_stats(insight_id))
    _show(stats, as_json, lambda: _stats_table(stats))


def _stats_table(stats: FeedbackStats) -> Table:
    rows: list[tuple[str, Any]] = [
        ("count", stats.count),
        ("average rating", stats.average_rating),
        ("with comment", stats.with_comment),
    ]
    rows += [(f"rating {rating}", n) for rating, n in stats.distribution.items()]
    rows += [(f"flag {flag}", n) for flag, n in stats.flags.items()]
    return _table(f"feedback on {stats.insight_id}", ("measure", "value"), rows)


FEEDBACK_COLUMNS = ("insight_id", "user_id", "rating", "flags", "comment", "submitted_at")


@app.command("feedback")
def feedback(
    insight_id: str | None = typer.Option(None, "--insight", help="Only this insight."),
    user_id: str | None = typer.Option(None, "--user", help="Only this user."),
    since: str | None = typer.Option(
        None, "--since", metavar="T", help=f"Submitted at or after T: {TIME_FORMS}."
    ),
    until: str | None = typer.Option(
        None, "--until", metavar="T", help=f"Submitted before T: {TIME_FORMS}."
    ),
    limit: int = LIMIT,
    cursor: str | None = CURSOR,
    as_json: bool = JSON,
) -> None:
    """Feedback, newest first, one page."""
    low, high = _time("--since", since), _time("--until", until)
    page: FeedbackPage = _answer(
        lambda db: db.list_feedback(insight_id, user_id, low, high, limit, cursor)
    )
    rows = [
        [item.insight_id, item.user_id, item.rating, ",".join(item.flags), item.comment,
         item.submitted_at]
        for item in page.items
    ]  # fmt: skip
    _show(
        page, as_json, lambda: _table("feedback", FEEDBACK_COLUMNS, rows), _next(page.next_cursor)
    )


@app.command("metrics")
def metrics(
    service_name: str = typer.Argument(..., help="The service that reported the metric."),
    metric_type: str = typer.Argument(..., help="The metric's type."),
    start: str = START,
    end: str = END,
    limit: int = LIMIT,
    as_json: bool = JSON,
) -> None:
    """Raw samples of one series in [start, end), oldest first."""
    low, high = _required_time("--start", start), _required_time("--end", end)
    found: MetricSamples = _answer(
        lambda db: db.get_metrics(service_name, metric_type, low, high, limit)
    )
    rows = [[s.recorded_at, s.value, s.unit, s.event_id] for s in found.samples]
    footer = f"truncated at {limit}: narrow the range" if found.truncated else ""
    columns = ("recorded_at", "value", "unit", "event_id")
    _show(found, as_json, lambda: _table(f"{service_name} {metric_type}", columns, rows), footer)


@app.command("aggregate")
def aggregate(
    service_name: str = typer.Argument(..., help="The service that reported the metric."),
    metric_type: str = typer.Argument(..., help="The metric's type."),
    start: str = START,
    end: str = END,
    interval: str = typer.Option(Interval.HOUR.value, "--interval", help="hour or day (UTC)."),
    as_json: bool = JSON,
) -> None:
    """Count, average, min and max per bucket of one series in [start, end)."""
    low, high = _required_time("--start", start), _required_time("--end", end)
    found: MetricAggregate = _answer(
        lambda db: db.aggregate_metrics(service_name, metric_type, low, high, interval)
    )
    columns = ("bucket_start", "unit", "count", "average", "min", "max", "partial", "source")
    rows = [
        [b.bucket_start, b.unit, b.count, b.average, b.minimum, b.maximum, b.partial, b.source]
        for b in found.buckets
    ]
    title = f"{service_name} {metric_type} per {found.interval.value}"
    footer = (
        f"withheld (partial, raw samples kept only since {found.raw_since:%Y-%m-%d %H:%M}Z): "
        + ", ".join(f"{w:%Y-%m-%d %H:%M}Z" for w in found.withheld)
        if found.withheld
        else ""
    )
    _show(found, as_json, lambda: _table(title, columns, rows), footer)
