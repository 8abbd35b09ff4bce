"""One benchmark run: for each pipeline, publish, measure the ceilings, drain, load, report.

Per pipeline, in this order: publish N events to a fresh topic; fetch-only over it;
decode-only over the same bytes; write-only (COPY) of their rows; the naive baseline on
a sample (these four ``--repeat`` times); then the real consumer (``utxoiq consume
--pipeline P`` in a child process, with a fresh consumer group) drains the topic,
``--repeat`` times, and, unless skipped, the last one takes a paced load at a fraction
of the median drain rate. The database tables are emptied before each step that writes.
Each figure is the median of its repetitions: this machine's speed varies by a third
from one minute to the next, and one measurement is not a figure to size a deployment by.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from consumer.bench import ceilings, naive
from consumer.bench.database import empty_tables, server_description
from consumer.bench.drain import measure_drain
from consumer.bench.kafka import (
    Sender,
    create_topics,
    delete_topics,
    end_offsets,
    fetch_only,
    producer,
)
from consumer.bench.latency import CommitWatcher, measure_latency
from consumer.bench.machine import describe
from consumer.bench.preload import PRELOADED, preload, remove_drain_rows
from consumer.bench.process import ConsumerGroup, ConsumerProcess
from consumer.bench.profile import profiler_prefix, render_profile
from consumer.bench.results import METHODS, Drain, Latency, PipelineResult, Rate
from consumer.bench.workload import EventFactory, Shape, generate, metric_services
from consumer.db.pool import create_pool
from consumer.pipelines import Pipeline, build_pipeline
from consumer.settings import Settings, TopicSettings
from schemas.topics import Stream

CONSUMER_SETTINGS = (
    "batch_max_records",
    "batch_max_bytes",
    "batch_max_age_ms",
    "write_lanes",
    "async_commit",
)


@dataclass(slots=True)
class BenchOptions:
    """What to run; every field has a command-line option."""

    events: dict[Stream, int]
    pipelines: list[Stream]
    output: Path
    skip_latency: bool = False
    load_fraction: float = 0.5
    load_seconds: float = 15.0
    naive_events: int = 5_000
    keep_topics: bool = False
    profile: bool = False
    seed: int = 7
    members: int = 1
    repeat: int = 3
    preload: int = 0
    """Rows stored before the drains of metrics and feedback (``consumer.bench.preload``)."""
    shape: Shape = field(default_factory=Shape)


@dataclass(slots=True)
class Workspace:
    """What every pipeline of one run shares."""

    settings: Settings
    options: BenchOptions
    run_id: str
    pool: asyncpg.Pool
    console: Console

    def settings_for(self, stream: Stream, repetition: int = 1) -> Settings:
        """The run's settings for ``stream``: its own topic, and a consumer group of its
        own for each repetition of the drain."""
        topics = TopicSettings.model_validate(
            {**self.settings.topics.model_dump(), stream.value: f"{self.run_id}.{stream.value}"}
        )
        prefix = self.run_id if repetition == 1 else f"{self.run_id}-r{repetition}"
        ingest = self.settings.ingest.model_copy(update={"group_prefix": prefix})
        return Settings(self.settings.kafka, self.settings.database, topics, ingest)

    def child_env(self, settings: Settings, stream: Stream) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": settings.database.url.get_secret_value(),
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            f"UTXOIQ_TOPIC_{stream.value.upper()}": settings.topics.source(stream),
            "UTXOIQ_GROUP_PREFIX": settings.ingest.group_prefix,
            "UTXOIQ_HTTP_PORT": "off",
            "UTXOIQ_LOG_FORMAT": "json",
            "UTXOIQ_LOG_LEVEL": "INFO",
        }

    def progress(self) -> Progress:
        return Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.console.is_terminal,
        )

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False)

    def repetitions(self) -> list[str]:
        """A label per repetition of a measurement: " (2/3)", or nothing when there is one."""
        count = self.options.repeat
        return [""] if count == 1 else [f" ({i}/{count})" for i in range(1, count + 1)]


def new_run_id() -> str:
    return "bench-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


@dataclass(slots=True)
class BenchRun:
    """The figures of every pipeline, and what they were measured on."""

    run_id: str
    meta: dict[str, Any]
    results: list[PipelineResult]

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            **self.meta,
            "pipelines": [r.as_dict() for r in self.results],
        }


async def run_bench(settings: Settings, options: BenchOptions, console: Console) -> BenchRun:
    """Run every selected pipeline against ``settings`` (its database is emptied)."""
    run_id = new_run_id()
    options.output.mkdir(parents=True, exist_ok=True)
    pool = await create_pool(settings.database, max_size=3)
    try:
        machine = describe(await server_description(pool))
        space = Workspace(settings, options, run_id, pool, console)
        results = [await bench_pipeline(space, stream) for stream in options.pipelines]
    finally:
        await pool.close()
    meta = {
        "command": " ".join(["utxoiq", *sys.argv[1:]]),
        "machine": machine,
        "database": settings.database.masked_url(),
        "settings": {name: getattr(settings.ingest, name) for name in CONSUMER_SETTINGS},
        "options": _describe_options(options),
        "methods": METHODS,
    }
    return BenchRun(run_id, meta, results)


def _describe_options(options: BenchOptions) -> dict[str, Any]:
    return {
        "events": {s.value: n for s, n in options.events.items()},
        "load_fraction": options.load_fraction,
        "load_seconds": options.load_seconds,
        "naive_events": options.naive_events,
        "skip_latency": options.skip_latency,
        "members": options.members,
        "repeat": options.repeat,
        "preload": options.preload,
        "profile": options.profile,
        "seed": options.seed,
        "shape": {
            "metric_services": options.shape.metric_services,
            "metric_types": options.shape.metric_types,
            "feedback_events_per_pair": options.shape.feedback_events_per_pair,
            "jobs_active": options.shape.jobs_active,
            "job_events": options.shape.job_events,
        },
    }


async def bench_pipeline(space: Workspace, stream: Stream) -> PipelineResult:
    settings = space.settings_for(stream)
    pipeline = build_pipeline(stream, settings)
    count = space.options.events[stream]
    factory = space.options.shape.factory(stream, count, space.options.seed)
    result = PipelineResult(stream.value, count)
    space.say(f"{stream.value}: {count:,} events into {pipeline.topic}")
    partitions = await create_topics(settings, pipeline)
    try:
        async with producer(settings) as client:
            sender = Sender(client, pipeline.topic, partitions)
            values = await publish(space, sender, factory, count, stream.value)
            ends = await end_offsets(settings, pipeline.topic, partitions)
            await measure_ceilings(space, settings, pipeline, values, ends, result)
            del values
            await measure_consumer(space, stream, sender, factory, ends, result)
    finally:
        if not space.options.keep_topics:
            await delete_topics(settings, [pipeline.topic, pipeline.dead_letter_topic])
    return result


async def publish(
    space: Workspace, sender: Sender, factory: EventFactory, count: int, name: str
) -> list[bytes]:
    """Publish ``count`` events and wait for every acknowledgement; their values."""
    values: list[bytes] = []
    with space.progress() as progress:
        task = progress.add_task(f"{name}: publishing", total=count)
        for chunk in generate(factory, count):
            pending = await sender.send(chunk, time.time())
            await pending.spans()
            values.extend(value for _, value in chunk)
            progress.advance(task, len(chunk))
    return values


async def measure_ceilings(
    space: Workspace,
    settings: Settings,
    pipeline: Pipeline,
    values: list[bytes],
    ends: dict[int, int],
    result: PipelineResult,
) -> None:
    """Each ceiling ``--repeat`` times; the median of each is kept."""
    name, stream, batch = pipeline.name, pipeline.stream, settings.ingest.batch_max_records
    max_bytes = settings.ingest.max_event_bytes
    rows = list(ceilings.rows_for(stream, values, pipeline.accepts.adapter))
    sample = values[: space.options.naive_events]
    fetched, decoded, written, naives = [], [], [], []
    for repetition in space.repetitions():
        records, seconds, cpu = await fetch_only(settings, pipeline.topic, ends)
        fetched.append(Rate(records, seconds, cpu))
        decoded.append(ceilings.decode_only(values, pipeline.accepts, max_bytes))
        async with emptied(space.pool):
            written.append(await ceilings.write_only(space.pool, stream, rows, batch))
        async with emptied(space.pool):
            naives.append(
                await naive.naive_baseline(space.pool, stream, sample, pipeline.accepts.adapter)
            )
        space.say(
            f"{name}{repetition}: fetch-only {fetched[-1].per_second:,.0f} events/s, "
            f"decode-only {decoded[-1].per_second:,.0f} events/s (CPU), "
            f"write-only {written[-1].per_second:,.0f} rows/s (COPY), "
            f"naive {naives[-1].per_second:,.0f} events/s on {naives[-1].events:,} events"
        )
    del rows
    found = result.ceilings
    found.fetch_only = result.measured("fetch_only", fetched, _per_second)
    found.decode_only = result.measured("decode_only", decoded, _per_second)
    found.write_only = result.measured("write_only", written, _per_second)
    found.naive = result.measured("naive_baseline", naives, _per_second)


def _per_second(rate: Rate) -> float:
    return rate.per_second


@contextlib.asynccontextmanager
async def emptied(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """Empty tables before and after the block."""
    await empty_tables(pool)
    try:
        yield
    finally:
        await empty_tables(pool)


def consumer_group(
    space: Workspace, pipeline: str, env: dict[str, str], bases: list[Path]
) -> ConsumerGroup:
    """Fresh consumer processes of one repetition, one per log base."""
    return ConsumerGroup(
        [
            ConsumerProcess(
                pipeline,
                env,
                base.with_suffix(".log"),
                profiler_prefix(space.options.profile, base),
            )
            for base in bases
        ]
    )


def _say_profiles(space: Workspace, pipeline: str, bases: list[Path]) -> None:
    """Render and name the repetition's profiles, when ``--profile`` asked for them."""
    if not space.options.profile:
        return
    for base in bases:
        for path in render_profile(base):
            space.say(f"{pipeline}: profile in {path}")


async def measure_consumer(
    space: Workspace,
    stream: Stream,
    sender: Sender,
    factory: EventFactory,
    ends: dict[int, int],
    result: PipelineResult,
) -> None:
    """Drain ``--repeat`` times, each time by fresh consumer processes in a fresh group
    over emptied tables; then, unless skipped, the paced load on the last drain's
    processes at a fraction of the median drain rate."""
    drains: list[Drain] = []
    labels = space.repetitions()
    preloaded = await preload_for(space, stream, result)
    for repetition, label in enumerate(labels, start=1):
        settings = space.settings_for(stream, repetition)
        pipeline = build_pipeline(stream, settings)
        if repetition > 1 and not preloaded:
            await empty_tables(space.pool)
        drain_started: datetime = await space.pool.fetchval("SELECT now()")
        bases = log_bases(space, pipeline.name, repetition)
        env = space.child_env(settings, stream)
        proc = consumer_group(space, pipeline.name, env, bases)
        try:
            proc.start()
            async with space.pool.acquire() as conn:
                watcher = CommitWatcher(conn, pipeline.group, pipeline.topic)
                drains.append(await drain_once(space, proc, watcher, ends, label, result))
                if repetition == len(labels):
                    result.drain = result.measured("drain", drains, _drain_rate)
                    if not space.options.skip_latency:
                        latency = await load(
                            space, sender, factory, watcher, proc, result.drain.rate
                        )
                        result.latency = latency
                        result.notes.extend(latency_notes(latency))
        finally:
            await proc.stop()
            result.peak_rss_bytes = max(result.peak_rss_bytes or 0, proc.peak_rss) or None
        if preloaded and repetition < len(labels):
            services = metric_services(space.options.shape.metric_services)
            await remove_drain_rows(space.pool, stream, drain_started, services)
        _say_profiles(space, pipeline.name, bases)
    if space.options.members > 1:
        result.notes.append(
            f"{space.options.members} group members: CPU is theirs together, "
            "peak RSS the largest one's"
        )
    if space.options.profile:
        result.notes.append("profiled: figures include the profiler's overhead")


async def preload_for(space: Workspace, stream: Stream, result: PipelineResult) -> bool:
    """Store ``--preload`` rows for ``stream`` when asked and it applies; True if stored."""
    rows = space.options.preload
    if rows == 0 or stream not in PRELOADED:
        return False
    space.say(f"{stream.value}: preloading {rows:,} rows")
    done = await preload(space.pool, stream, rows, space.settings.metrics)
    space.say(f"{stream.value}: {done.note()}")
    result.notes.append(done.note())
    return True


def log_bases(space: Workspace, name: str, repetition: int) -> list[Path]:
    """Where each member's log goes: ``<run>-<pipeline>[-r<repetition>][-<member>]``."""
    again = "" if repetition == 1 else f"-r{repetition}"
    return [
        space.options.output / f"{space.run_id}-{name}{again}{'' if i == 0 else f'-{i + 1}'}"
        for i in range(space.options.members)
    ]


def _drain_rate(drain: Drain) -> float:
    return drain.rate.per_second


async def drain_once(
    space: Workspace,
    proc: ConsumerGroup,
    watcher: CommitWatcher,
    ends: dict[int, int],
    label: str,
    result: PipelineResult,
) -> Drain:
    name = proc.pipeline
    with space.progress() as progress:
        task = progress.add_task(f"{name}: draining{label}", total=sum(ends.values()))
        drain, dead = await measure_drain(
            proc, watcher, ends, lambda done: progress.update(task, completed=done)
        )
    if dead:
        result.notes.append(f"{dead} records were dead-lettered during the drain{label}")
    space.say(f"{name}{label}: drained at {drain.rate.per_second:,.0f} events/s")
    return drain


async def load(
    space: Workspace,
    sender: Sender,
    factory: EventFactory,
    watcher: CommitWatcher,
    proc: ConsumerGroup,
    drained: Rate,
) -> Latency:
    rate = drained.per_second * space.options.load_fraction
    seconds = space.options.load_seconds
    space.say(f"{proc.pipeline}: offering {rate:,.0f} events/s for {seconds:.0f} s")
    latency = await measure_latency(
        sender, factory, watcher, rate, seconds, proc.check_alive, proc.cpu_between
    )
    space.say(
        f"{proc.pipeline}: p50 {latency.p50_ms:.0f} ms, p99 {latency.p99_ms:.0f} ms, "
        f"max {latency.max_ms:.0f} ms at {latency.achieved_rate:,.0f} events/s"
    )
    return latency


def latency_notes(latency: Latency) -> list[str]:
    notes = []
    if latency.missing:
        notes.append(f"{latency.missing} events of the paced load were not seen committed")
    if latency.achieved_rate < 0.95 * latency.target_rate:
        notes.append(
            f"the paced producer reached {latency.achieved_rate:,.0f} of "
            f"{latency.target_rate:,.0f} events/s"
        )
    return notes
