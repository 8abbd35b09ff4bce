"""The real consumer under test: ``--repeat`` drains of a published topic, each by
fresh consumer processes in a fresh group, then ``--repeat`` windows of paced load on
the last one."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

from consumer.bench.database import empty_tables
from consumer.bench.drain import measure_drain
from consumer.bench.kafka import Sender
from consumer.bench.latency import CommitWatcher, measure_latency
from consumer.bench.preload import PRELOADED, preload, remove_drain_rows
from consumer.bench.process import ConsumerGroup
from consumer.bench.profile import render_profile
from consumer.bench.results import Drain, Latency, PipelineResult, Rate
from consumer.bench.space import Workspace, consumer_group, log_bases
from consumer.bench.workload import EventFactory, metric_services
from consumer.pipelines import build_pipeline
from schemas.topics import Stream


async def measure_consumer(
    space: Workspace,
    stream: Stream,
    sender: Sender,
    factory: EventFactory,
    ends: dict[int, int],
    result: PipelineResult,
) -> None:
    """Drain ``--repeat`` times, each time by fresh consumer processes in a fresh group
    over emptied tables; then, unless skipped, ``--repeat`` windows of paced load on the
    last drain's processes at a fraction of the median drain rate, one after another,
    each once the previous one's events are committed. The latency figures are those of
    the window with the median p99: a single window's tail is one stall of a shared
    machine more or less."""
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
                        windows = [
                            await load(space, sender, factory, watcher, proc, result.drain.rate)
                            for _ in labels
                        ]
                        result.latency = result.measured("latency_p99_ms", windows, _p99)
                        for window, label_of_window in zip(windows, labels, strict=True):
                            result.notes.extend(latency_notes(window, label_of_window))
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


def _drain_rate(drain: Drain) -> float:
    return drain.rate.per_second


def _p99(latency: Latency) -> float:
    """A window's p99, a window without one (nothing seen committed) ranking last."""
    return math.inf if math.isnan(latency.p99_ms) else latency.p99_ms


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


def latency_notes(latency: Latency, label: str = "") -> list[str]:
    """What went wrong in a window of paced load (``label``: which one, of several)."""
    notes = []
    if latency.missing:
        notes.append(f"{latency.missing} events of the paced load{label} were not seen committed")
    if latency.achieved_rate < 0.95 * latency.target_rate:
        notes.append(
            f"the paced producer{label} reached {latency.achieved_rate:,.0f} of "
            f"{latency.target_rate:,.0f} events/s"
        )
    return notes


def _say_profiles(space: Workspace, pipeline: str, bases: list[Path]) -> None:
    """Render and name the repetition's profiles, when ``--profile`` asked for them."""
    if not space.options.profile:
        return
    for base in bases:
        for path in render_profile(base):
            space.say(f"{pipeline}: profile in {path}")
