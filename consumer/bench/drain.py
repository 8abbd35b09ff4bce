"""The drain rate of the real consumer over a pre-published topic, from its own log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from consumer.bench.latency import CommitWatcher
from consumer.bench.process import POSITIONED, ConsumerFailed, ConsumerGroup, LogEvent
from consumer.bench.results import Drain, Rate

STALL_S = 120.0
START_S = 120.0

Progress = Callable[[int], None]


async def wait_drained(
    proc: ConsumerGroup, watcher: CommitWatcher, ends: dict[int, int], progress: Progress
) -> None:
    """Poll the stored positions until they reach ``ends``; fail if they stop moving."""
    moved_at, last = time.monotonic(), -1
    while not watcher.reached(ends):
        proc.check_alive()
        positions = await watcher.poll()
        done = sum(min(positions.get(p, 0), end) for p, end in ends.items())
        if done != last:
            moved_at, last = time.monotonic(), done
            progress(done)
        elif time.monotonic() - moved_at > STALL_S:
            raise ConsumerFailed(
                f"the {proc.pipeline} consumer made no progress for {STALL_S:.0f} s at "
                f"{done} of {sum(ends.values())} events; its log ends with:\n{proc.log_tail()}"
            )
        await asyncio.sleep(0.05)
    progress(sum(ends.values()))


async def committed_batches(proc: ConsumerGroup, since: float, total: int) -> list[LogEvent]:
    """The logged batches since ``since``, once they account for ``total`` records."""
    deadline = time.monotonic() + 30
    while True:
        proc.read_log()
        batches = proc.batches(since)
        if sum(int(b.fields.get("records", 0)) for b in batches) >= total:
            return batches
        if time.monotonic() > deadline:
            raise ConsumerFailed(
                f"the {proc.pipeline} consumer's log accounts for fewer than {total} records"
            )
        await asyncio.sleep(0.02)


def dead_lettered(batches: list[LogEvent]) -> int:
    return sum(sum(dict(b.fields.get("dead_lettered") or {}).values()) for b in batches)


async def measure_drain(
    proc: ConsumerGroup, watcher: CommitWatcher, ends: dict[int, int], progress: Progress
) -> tuple[Drain, int]:
    """Drain the backlog; (the figures, how many records were dead-lettered).

    The clock starts when the group is whole: at the latest of the members' first
    'positioned' lines (with one member, its first). Members joining one after another
    rebalance the group, a one-off cost of starting it, not of running it; the records
    committed before it was whole are left out. When the drain ends before then (a run
    too short for its members), or a member never takes a partition, the clock starts
    at the first member's line instead.
    """
    positioned = await proc.wait_for(POSITIONED, within=START_S)
    await wait_drained(proc, watcher, ends, progress)
    total = sum(ends.values())
    batches = await committed_batches(proc, positioned.at, total)
    proc.sample()
    last = max(b.at for b in batches)
    whole = proc.whole_at(POSITIONED)
    steady = [] if whole is None else [b for b in batches if b.at > whole]
    first, counted = (whole, steady) if whole is not None and steady else (positioned.at, batches)
    records = sum(int(b.fields.get("records", 0)) for b in counted)
    rate = Rate(records, last - first, proc.cpu_between(first, last))
    return Drain(rate, len(counted)), dead_lettered(batches)
