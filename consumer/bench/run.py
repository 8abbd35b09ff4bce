"""One benchmark run: for each pipeline, publish, measure the ceilings, drain, load, report.

Per pipeline, in this order: publish N events to a fresh topic; fetch-only over it;
decode-only over the same bytes; write-only (COPY) of their rows; the naive baseline on
a sample; then the real consumer (``utxoiq consume --pipeline P`` in a child process,
with a fresh consumer group) drains the topic, and, unless skipped, takes a paced load
at a fraction of the drain rate it just reached. The database tables are emptied
before each step that writes.
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
from consumer.bench.process import ConsumerGroup, ConsumerProcess
from consumer.bench.profile import profiler_prefix, render_profile
from consumer.bench.results import METHODS, Latency, PipelineResult, Rate
from consumer.bench.workload import EventFactory, Shape, generate
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
    shape: Shape = field(default_factory=Shape)


@dataclass(slots=True)
class Workspace:
    """What every pipeline of one run shares."""

    settings: Settings
    options: BenchOptions
    run_id: str
    pool: asyncpg.Pool
    console: Console

    def settings_for(self, stream: Stream) -> Settings:
        topics = TopicSettings.model_validate(
            {**self.settings.topics.model_dump(), stream.value: f"{self.run_id}.{stream.value}"}
        )
        ingest = self.settings.ingest.model_copy(update={"group_prefix": self.run_id})
        return Settings(self.settings.kafka, self.settings.database, topics, ingest)

    def child_env(self, settings: Settings, stream: Stream) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": settings.database.url.get_secret_value(),
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            f"UTXOIQ_TOPIC_{stream.value.upper()}": settings.topics.source(stream),
            "UTXOIQ_GROUP_PREFIX": settings.ingest.group_prefix,
            "UTXOIQ_HTTP_PORT": "0",
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
            await measure_consumer(space, settings, pipeline, sender, factory, ends, result)
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
    name, stream, batch = pipeline.name, pipeline.stream, settings.ingest.batch_max_records
    records, seconds, cpu = await fetch_only(settings, pipeline.topic, ends)
    result.ceilings.fetch_only = Rate(records, seconds, cpu)
    space.say(f"{name}: fetch-only {result.ceilings.fetch_only.per_second:,.0f} events/s")
    max_bytes = settings.ingest.max_event_bytes
    result.ceilings.decode_only = ceilings.decode_only(values, pipeline.adapter, max_bytes)
    space.say(f"{name}: decode-only {result.ceilings.decode_only.per_second:,.0f} events/s (CPU)")
    rows = list(ceilings.rows_for(stream, values, pipeline.adapter))
    async with emptied(space.pool):
        result.ceilings.write_only = await ceilings.write_only(space.pool, stream, rows, batch)
    del rows
    space.say(f"{name}: write-only {result.ceilings.write_only.per_second:,.0f} rows/s (COPY)")
    sample = values[: space.options.naive_events]
    async with emptied(space.pool):
        rate = await naive.naive_baseline(space.pool, stream, sample, pipeline.adapter)
    result.ceilings.naive = rate
    space.say(f"{name}: naive {rate.per_second:,.0f} events/s on {rate.events:,} events")


@contextlib.asynccontextmanager
async def emptied(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """Empty tables before and after the block."""
    await empty_tables(pool)
    try:
        yield
    finally:
        await empty_tables(pool)


async def measure_consumer(
    space: Workspace,
    settings: Settings,
    pipeline: Pipeline,
    sender: Sender,
    factory: EventFactory,
    ends: dict[int, int],
    result: PipelineResult,
) -> None:
    """Drain with the real consumer, then (unless skipped) the paced load."""
    name = pipeline.name
    bases = [
        space.options.output / f"{space.run_id}-{name}{'' if i == 0 else f'-{i + 1}'}"
        for i in range(space.options.members)
    ]
    env = space.child_env(settings, pipeline.stream)
    proc = ConsumerGroup(
        [
            ConsumerProcess(
                name, env, base.with_suffix(".log"), profiler_prefix(space.options.profile, base)
            )
            for base in bases
        ]
    )
    proc.start()
    try:
        async with space.pool.acquire() as conn:
            watcher = CommitWatcher(conn, pipeline.group, pipeline.topic)
            await run_consumer(space, proc, watcher, sender, factory, ends, result)
    finally:
        await proc.stop()
        result.peak_rss_bytes = proc.peak_rss or None
    if space.options.members > 1:
        result.notes.append(
            f"{space.options.members} group members: CPU is theirs together, "
            "peak RSS the largest one's"
        )
    if space.options.profile:
        result.notes.append("profiled: figures include the profiler's overhead")
        for base in bases:
            for path in render_profile(base):
                space.say(f"{name}: profile in {path}")


async def run_consumer(
    space: Workspace,
    proc: ConsumerGroup,
    watcher: CommitWatcher,
    sender: Sender,
    factory: EventFactory,
    ends: dict[int, int],
    result: PipelineResult,
) -> None:
    name = proc.pipeline
    with space.progress() as progress:
        task = progress.add_task(f"{name}: draining", total=sum(ends.values()))
        drain, dead = await measure_drain(
            proc, watcher, ends, lambda done: progress.update(task, completed=done)
        )
    result.drain = drain
    if dead:
        result.notes.append(f"{dead} records were dead-lettered during the drain")
    space.say(f"{name}: drained at {drain.rate.per_second:,.0f} events/s")
    if not space.options.skip_latency:
        result.latency = latency = await load(space, sender, factory, watcher, proc, drain.rate)
        result.notes.extend(latency_notes(latency))


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
    latency = await measure_latency(sender, factory, watcher, rate, seconds, proc.check_alive)
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
