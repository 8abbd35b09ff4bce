"""End-to-end latency under a steady offered load, and watching commits as they land.

A paced producer sends events at a fixed rate (open loop: it catches up when it falls
behind, so a slow consumer cannot slow the offered load down). The events are made,
encoded, given their partitions and cut around their ``time`` before the load starts, so
a tick only joins each value around the moment it began and hands one batch per
partition to the client. A watcher polls the consumer's stored positions in
``ingest_offsets`` every 10 ms; an event counts as committed at the first poll that
shows a position past its offset. Latency is that moment minus the event's time: an
upper bound, late by at most one poll. The CPU of this process (producer and watcher)
and of the consumer over the paced load are reported beside it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import NamedTuple

import asyncpg

from consumer.bench.database import stored_positions
from consumer.bench.kafka import Pending, Sender
from consumer.bench.results import Latency
from consumer.bench.stats import (
    Observation,
    SentSpan,
    commit_latencies,
    weighted_percentile,
)
from consumer.bench.workload import EventFactory, KeyValue

TICK_S = 0.005
POLL_S = 0.01


class CommitWatcher:
    """Records, per partition, when the stored position moved and to where."""

    def __init__(self, conn: asyncpg.Connection, group: str, topic: str) -> None:
        self.conn = conn
        self.group = group
        self.topic = topic
        self.seen: dict[int, list[Observation]] = {}
        self.current: dict[int, int] = {}

    async def poll(self) -> dict[int, int]:
        positions = await stored_positions(self.conn, self.group, self.topic)
        at = time.time()
        for partition, position in positions.items():
            if self.current.get(partition) != position:
                self.current[partition] = position
                self.seen.setdefault(partition, []).append(Observation(at, position))
        return positions

    def reached(self, targets: dict[int, int]) -> bool:
        return all(self.current.get(p, 0) >= end for p, end in targets.items())

    async def watch(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.poll()
            await asyncio.sleep(POLL_S)

    async def wait_for(
        self, targets: dict[int, int], within: float, alive: Callable[[], None]
    ) -> None:
        """Poll until every partition reaches ``targets`` (or ``within`` seconds pass)."""
        deadline = time.monotonic() + within
        while not self.reached(targets) and time.monotonic() < deadline:
            alive()
            await self.poll()
            await asyncio.sleep(POLL_S)


TIME_PLACEHOLDER = "1970-01-01T00:00:00.000000+00:00"
"""The ``time`` the paced events are made with; each is stamped when its tick sends it."""


def make_events(factory: EventFactory, count: int) -> list[KeyValue]:
    """The paced load's events, made before it starts so that making them does not take
    CPU from the consumer under test while it runs."""
    return [factory.next(TIME_PLACEHOLDER) for _ in range(count)]


class PacedEvent(NamedTuple):
    """An event ready to send: its partition, key, and value cut around its ``time``."""

    partition: int
    key: bytes
    head: bytes
    tail: bytes


def prepare(events: list[KeyValue], partition_of: Callable[[bytes], int]) -> list[PacedEvent]:
    """The events as the paced load sends them (work done before its clock starts)."""
    placeholder = TIME_PLACEHOLDER.encode()
    prepared = []
    for key, value in events:
        head, _, tail = value.partition(placeholder)
        prepared.append(PacedEvent(partition_of(key), key, head, tail))
    return prepared


def stamped(events: Sequence[PacedEvent], at: datetime) -> dict[int, list[KeyValue]]:
    """The events with ``at`` (RFC 3339, microseconds) as their ``time``, by partition,
    in order."""
    stamp = at.isoformat(timespec="microseconds").encode()
    by_partition: dict[int, list[KeyValue]] = {}
    for partition, key, head, tail in events:
        found = by_partition.get(partition)
        if found is None:
            found = by_partition[partition] = []
        found.append((key, head + stamp + tail))
    return by_partition


async def paced_load(
    sender: Sender, events: list[PacedEvent], rate: float, seconds: float
) -> tuple[list[Pending], int, float]:
    """Offer ``rate`` events per second for ``seconds`` (at most ``events``); (batches,
    events sent, duration)."""
    pending: list[Pending] = []
    sent = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds and sent < len(events):
        due = min(int(rate * elapsed), len(events)) - sent
        if due > 0:
            now = time.time()
            chunk = stamped(events[sent : sent + due], datetime.fromtimestamp(now, UTC))
            pending.append(await sender.send_partitioned(chunk, now))
            sent += due
        await asyncio.sleep(TICK_S)
    return pending, sent, time.perf_counter() - started


def span_ends(spans: list[SentSpan]) -> dict[int, int]:
    ends: dict[int, int] = {}
    for span in spans:
        ends[span.partition] = max(ends.get(span.partition, 0), span.base_offset + span.count)
    return ends


def summarize(
    spans: list[SentSpan], watcher: CommitWatcher, rate: float, sent: int, seconds: float
) -> Latency:
    latencies, missing = commit_latencies(spans, watcher.seen)
    if not latencies:
        return Latency(rate, sent, seconds, math.nan, math.nan, math.nan, missing)
    ms = [(value * 1000, count) for value, count in latencies]
    return Latency(
        target_rate=rate,
        sent=sent,
        seconds=seconds,
        p50_ms=weighted_percentile(ms, 50),
        p99_ms=weighted_percentile(ms, 99),
        max_ms=max(value for value, _ in ms),
        missing=missing,
    )


CpuBetween = Callable[[float, float], float]
"""CPU seconds a process spent between two wall-clock times."""


async def measure_latency(
    sender: Sender,
    factory: EventFactory,
    watcher: CommitWatcher,
    rate: float,
    seconds: float,
    alive: Callable[[], None],
    consumer_cpu: CpuBetween | None = None,
) -> Latency:
    """Offer the load while watching commits, wait for the tail, and summarize, with the
    CPU this process and (through ``consumer_cpu``) the consumer spent while it ran."""
    events = prepare(make_events(factory, math.ceil(rate * seconds)), sender.partition_of)
    stop = asyncio.Event()
    watching = asyncio.create_task(watcher.watch(stop))
    try:
        began, cpu = time.time(), time.process_time()
        pending, sent, duration = await paced_load(sender, events, rate, seconds)
        spans = [span for batch in pending for span in await batch.spans()]
        generator_cpu, ended = time.process_time() - cpu, time.time()
    finally:
        stop.set()
        await watching
    await watcher.wait_for(span_ends(spans), within=60.0, alive=alive)
    latency = summarize(spans, watcher, rate, sent, duration)
    latency.generator_cpu_s = generator_cpu
    if consumer_cpu is not None:
        latency.consumer_cpu_s = consumer_cpu(began, ended)
    return latency
