"""``utxoiq bench curve``: the drain rate as a table grows (the cost curve).

One run, one pipeline (metrics or feedback). The workload is published once per kind of
sample time (metrics: ``live`` and ``backfill``, see ``MetricTimes``). Then, for each
level of stored rows in turn (``--rows 0,10000000,50000000``), the preload is brought up
to that level (outside every timing, ``consumer.bench.preload``) and each topic is
drained ``--repeat`` times, the kinds interleaved, each drain by a fresh consumer in a
fresh group, its own rows removed after it. Every level's median rate is set against the
first level's (normally 0: empty tables) of the same run, so the ratios do not depend on
how fast the machine ran that day.

``--drop-day N`` then stores N samples in a day past the raw retention and, while a live
drain runs, drops that day's partition as ``utxoiq db maintain`` does: the drop's
duration and the write times of the batches it overlapped say how long ingestion waited.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from consumer.bench.database import empty_tables, server_description
from consumer.bench.drain import measure_drain
from consumer.bench.drop import DropDuringDrain, drop_during_drain
from consumer.bench.kafka import Sender, create_topics, delete_topics, end_offsets, producer
from consumer.bench.latency import CommitWatcher
from consumer.bench.machine import describe
from consumer.bench.preload import preload, remove_drain_rows
from consumer.bench.results import Rate
from consumer.bench.run import new_run_id
from consumer.bench.space import BenchOptions, Workspace, consumer_group, publish
from consumer.bench.workload import MetricTimes, Shape, metric_services
from consumer.db.pool import create_pool
from consumer.pipelines import Pipeline, build_pipeline
from consumer.settings import Settings
from schemas.topics import Stream


@dataclass(frozen=True, slots=True)
class CurveOptions:
    stream: Stream
    levels: list[int]
    """Rows stored before each step's drains, ascending."""
    times: list[MetricTimes]
    events: int
    repeat: int
    output: Path
    seed: int = 7
    drop_day_rows: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.stream.value,
            "levels": self.levels,
            "times": [t.value for t in self.times],
            "events": self.events,
            "repeat": self.repeat,
            "seed": self.seed,
            "drop_day_rows": self.drop_day_rows,
        }


@dataclass(slots=True)
class Point:
    """The drains of one topic at one level of stored rows."""

    rows: int
    times: MetricTimes
    drains: list[Rate] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return statistics.median(d.per_second for d in self.drains)

    @property
    def cpu_us(self) -> float | None:
        cpus = [d.cpu_us_per_event for d in self.drains]
        known = [c for c in cpus if c is not None]
        return statistics.median(known) if known else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "times": self.times.value,
            "rate": self.rate,
            "rates": [d.per_second for d in self.drains],
            "cpu_us_per_event": self.cpu_us,
        }


@dataclass(slots=True)
class CurveRun:
    run_id: str
    options: CurveOptions
    machine: dict[str, Any]
    points: list[Point] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    drop: DropDuringDrain | None = None

    def ratio(self, point: Point) -> float:
        """``point``'s median rate over the first level's of the same kind of times."""
        base = next(p for p in self.points if p.times is point.times)
        return point.rate / base.rate if base.rate else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "machine": self.machine,
            "options": self.options.as_dict(),
            "points": [{**p.as_dict(), "ratio": self.ratio(p)} for p in self.points],
            "drop": self.drop.as_dict() if self.drop else None,
            "notes": self.notes,
        }


@dataclass(slots=True)
class _Topic:
    times: MetricTimes
    pipeline: Pipeline
    ends: dict[int, int]


async def run_curve(settings: Settings, options: CurveOptions, console: Console) -> CurveRun:
    run_id = new_run_id("curve")
    options.output.mkdir(parents=True, exist_ok=True)
    bench = BenchOptions(
        {options.stream: options.events}, [options.stream], options.output,
        skip_latency=True, seed=options.seed, repeat=options.repeat,
    )  # fmt: skip
    pool = await create_pool(settings.database, max_size=3)
    try:
        space = Workspace(settings, bench, run_id, pool, console)
        run = CurveRun(run_id, options, describe(await server_description(pool)))
        topics = await _publish_all(space, options)
        try:
            await _levels(space, run, topics)
            if options.drop_day_rows:
                live = topics[0]
                prefix = f"{space.run_id}-drop"
                drain = space.settings_with(options.stream, live.pipeline.topic, prefix)
                run.drop = await drop_during_drain(space, drain, live.ends, options.drop_day_rows)
        finally:
            await delete_topics(settings, [t.pipeline.topic for t in topics])
    finally:
        await pool.close()
    return run


async def _publish_all(space: Workspace, options: CurveOptions) -> list[_Topic]:
    stream, topics = options.stream, []
    for times in options.times:
        settings = space.settings_with(stream, f"{space.run_id}.{stream.value}.{times}", "-")
        pipeline = build_pipeline(stream, settings)
        partitions = await create_topics(settings, pipeline)
        shape = Shape(metric_times=times, retention_days=settings.metrics.raw_retention_days)
        factory = shape.factory(stream, options.events, options.seed)
        async with producer(settings) as client:
            sender = Sender(client, pipeline.topic, partitions)
            await publish(space, sender, factory, options.events, f"{stream.value} {times}")
        ends = await end_offsets(settings, pipeline.topic, partitions)
        topics.append(_Topic(times, pipeline, ends))
    return topics


async def _levels(space: Workspace, run: CurveRun, topics: list[_Topic]) -> None:
    options, stored = run.options, 0
    await empty_tables(space.pool)
    for rows in options.levels:
        if rows > stored:
            space.say(f"preloading up to {rows:,} rows")
            done = await preload(space.pool, options.stream, rows, space.settings.metrics, stored)
            space.say(done.note())
            run.notes.append(done.note())
            stored = rows
        points = [Point(rows, topic.times) for topic in topics]
        for repetition in range(1, options.repeat + 1):
            for topic, point in zip(topics, points, strict=True):
                label = f"{rows}-{topic.times}-r{repetition}"
                point.drains.append(await _drain(space, topic, label))
        run.points.extend(points)
        for point in points:
            space.say(
                f"{rows:,} rows, {point.times}: {point.rate:,.0f} events/s, "
                f"{run.ratio(point):.2f}x the first level"
            )


async def _drain(space: Workspace, topic: _Topic, label: str) -> Rate:
    """One drain of ``topic`` by a fresh group; its rows removed after it."""
    stream = topic.pipeline.stream
    prefix = f"{space.run_id}-{label}"
    settings = space.settings_with(stream, topic.pipeline.topic, prefix)
    pipeline = build_pipeline(stream, settings)
    started: datetime = await space.pool.fetchval("SELECT now()")
    base = space.options.output / f"{space.run_id}-{stream.value}-{label}"
    proc = consumer_group(space, pipeline.name, space.child_env(settings, stream), [base])
    try:
        proc.start()
        async with space.pool.acquire() as conn:
            watcher = CommitWatcher(conn, pipeline.group, pipeline.topic)
            drain, _ = await measure_drain(proc, watcher, topic.ends, lambda done: None)
    finally:
        await proc.stop()
    services = metric_services(Shape().metric_services)
    await remove_drain_rows(space.pool, stream, started, services)
    space.say(f"{label}: {drain.rate.per_second:,.0f} events/s")
    return drain.rate


def render_curve(run: CurveRun, console: Console) -> None:
    """The curve as a table: per level and kind of times, the median drain rate, its
    spread over the repeats, the ratio to the first level and the consumer's CPU."""
    table = Table(title=f"{run.options.stream.value}: drain rate by rows stored")
    for column in ("rows stored", "times", "events/s (median)", "range", "ratio", "CPU us/event"):
        table.add_column(column, justify="left" if column == "times" else "right")
    for point in run.points:
        rates = [d.per_second for d in point.drains]
        cpu = point.cpu_us
        table.add_row(
            f"{point.rows:,}",
            point.times.value,
            f"{point.rate:,.0f}",
            f"{min(rates):,.0f}-{max(rates):,.0f}",
            f"{run.ratio(point):.2f}",
            "-" if cpu is None else f"{cpu:.1f}",
        )
    console.print(table)
    if run.drop is not None:
        drop = run.drop.as_dict()
        console.print(
            f"a day of {drop['rows']:,} samples ({drop['bytes_per_row']:.0f} bytes each with "
            f"their indexes) dropped in {drop['drop_ms']:.0f} ms while "
            f"draining: {drop['batches_during']} batches overlapped it, their write "
            f"p99 {drop['write_ms_during_p99']:.0f} ms, max {drop['write_ms_during_max']:.0f} "
            f"ms (the whole drain: p50 {drop['write_ms_p50']:.0f}, p99 "
            f"{drop['write_ms_p99']:.0f} ms)",
            highlight=False,
        )
