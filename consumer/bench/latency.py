"""End-to-end latency under a steady offered load, and watching commits as they land.

A paced producer sends events at a fixed rate (open loop: it catches up when it falls
behind, so a slow consumer cannot slow the offered load down). Each event's ``time`` is
the moment its tick began. A watcher polls the consumer's stored positions in
``ingest_offsets`` every 10 ms; an event counts as committed at the first poll that
shows a position past its offset. Latency is that moment minus the event's time: an
upper bound, late by at most one poll.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime

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
from consumer.bench.workload import EventFactory, rfc3339

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


async def paced_load(
    sender: Sender, factory: EventFactory, rate: float, seconds: float
) -> tuple[list[Pending], int, float]:
    """Offer ``rate`` events per second for ``seconds``; (batches, events sent, duration)."""
    pending: list[Pending] = []
    sent = 0
    started = time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        due = int(rate * elapsed) - sent
        if due > 0:
            now = time.time()
            at = rfc3339(datetime.fromtimestamp(now, UTC))
            pending.append(await sender.send([factory.next(at) for _ in range(due)], now))
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
        return Latency(rate, sent, seconds, float("nan"), float("nan"), float("nan"), missing)
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


async def measure_latency(
    sender: Sender,
    factory: EventFactory,
    watcher: CommitWatcher,
    rate: float,
    seconds: float,
    alive: Callable[[], None],
) -> Latency:
    """Offer the load while watching commits, wait for the tail, and summarize."""
    stop = asyncio.Event()
    watching = asyncio.create_task(watcher.watch(stop))
    try:
        pending, sent, duration = await paced_load(sender, factory, rate, seconds)
        spans = [span for batch in pending for span in await batch.spans()]
    finally:
        stop.set()
        await watching
    await watcher.wait_for(span_ends(spans), within=60.0, alive=alive)
    return summarize(spans, watcher, rate, sent, duration)
