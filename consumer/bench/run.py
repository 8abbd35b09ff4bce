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
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg
from rich.console import Console

from consumer.bench import ceilings, naive
from consumer.bench.consumer_runs import measure_consumer
from consumer.bench.database import empty_tables, server_description
from consumer.bench.kafka import (
    Sender,
    create_topics,
    delete_topics,
    end_offsets,
    fetch_only,
    producer,
)
from consumer.bench.machine import describe
from consumer.bench.results import METHODS, PipelineResult, Rate
from consumer.bench.space import BenchOptions, Workspace, publish
from consumer.db.pool import create_pool
from consumer.pipelines import Pipeline, build_pipeline
from consumer.settings import Settings
from schemas.topics import Stream

CONSUMER_SETTINGS = (
    "batch_max_records",
    "batch_max_bytes",
    "batch_max_age_ms",
    "write_lanes",
    "async_commit",
)


def new_run_id(kind: str = "bench") -> str:
    """``<kind>-<UTC date and time>``: the name of a run's JSON file and logs."""
    return f"{kind}-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")


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
