"""The write lanes in flight: which lane writes, which lane to gather for next, waiting.

A member's partitions are spread over ``UTXOIQ_WRITE_LANES`` lanes by partition number.
Each lane applies its batches one after the other, so a partition's records (and so an
entity's) are applied in offset order, while the other lanes write; lanes never share
a partition, so their positions never conflict. Only the loop polls Kafka: a lane that
must wait just sleeps, and when the loop has waited for a lane longer than
``LANE_PATIENCE_S`` it pauses every partition and keeps polling meanwhile, so the member
stays in its group and nothing is fetched that would have to be dropped.

Three lanes by default (``UTXOIQ_WRITE_LANES``): with one lane, drain / min(fetch, write)
fell to 0.48 for metrics against 0.60-0.75 with three, and to 0.60 for feedback against
0.65-1.10; the metrics drain to 48,500 events/s against 58,000-79,000 (``utxoiq bench
--repeat 3``, one run with one lane against three runs with three, interleaved).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from consumer.engine.lanes import choose_lane
from consumer.engine.partitions import PartitionTable
from consumer.engine.status import Pulse

LANE_PATIENCE_S = 1.0
"""How long the loop waits for a lane before pausing every partition to poll while it
waits (a healthy batch is written well within this)."""


class LanePool:
    """One write task per busy lane."""

    def __init__(self, lanes: int, table: PartitionTable, pulse: Pulse) -> None:
        self.lanes = lanes
        self._table = table
        self._pulse = pulse
        self._writing: dict[int, asyncio.Task[None]] = {}

    def __bool__(self) -> bool:
        """Whether any lane is writing (or holds a finished write not yet reaped)."""
        return bool(self._writing)

    def free(self, lane: int) -> bool:
        """Whether ``lane`` is not writing (or has just finished)."""
        task = self._writing.get(lane)
        return task is None or task.done()

    def start(self, lane: int, write: Coroutine[Any, Any, None]) -> None:
        self._writing[lane] = asyncio.create_task(write)

    def reap_finished(self) -> None:
        """Forget the lanes whose batch is done; a batch that failed (an error the
        service stops for) raises here, even while the loop finds nothing to gather."""
        for lane in [lane for lane, task in self._writing.items() if task.done()]:
            self._writing.pop(lane).result()

    async def next_lane(self, last: int, stop: asyncio.Event) -> int:
        """The lane to gather for next: with one lane, that lane (its next batch is
        gathered and decoded while it writes); with several, ``choose_lane``'s free lane
        among those with partitions, in turn after ``last``, waiting for one to finish
        when none is free, so a batch is gathered when its lane can take it and no
        decoded batch waits."""
        if self.lanes == 1:
            return 0
        while True:
            order = [(last + step) % self.lanes for step in range(1, self.lanes + 1)]
            table = self._table
            order = [lane for lane in order if table.partitions_of(lane, self.lanes) is not None]
            if not order:
                return (last + 1) % self.lanes
            await self.wait_for([lane for lane, task in self._writing.items() if task.done()])
            chosen = choose_lane(order, self._writing)
            if chosen is not None:
                return chosen
            if stop.is_set():
                return order[0]
            await self._wait_for_any()

    async def _wait_for_any(self) -> None:
        """Wait until one lane has finished its batch, and reap it."""
        await self._await_tasks(list(self._writing.values()), any_of=True)
        await self.wait_for([lane for lane, task in self._writing.items() if task.done()])

    async def wait_for(self, lanes: list[int]) -> None:
        """Wait until the given lanes have finished their batches, and reap them."""
        await self._await_tasks([self._writing[lane] for lane in lanes if lane in self._writing])
        for lane in lanes:
            task = self._writing.get(lane)
            if task is not None and task.done():
                del self._writing[lane]
                task.result()

    async def wait_for_all(self) -> None:
        await self.wait_for(list(self._writing))

    async def _await_tasks(self, tasks: list[asyncio.Task[None]], any_of: bool = False) -> None:
        """Wait for all (or any) of ``tasks``; once that takes longer than
        ``LANE_PATIENCE_S``, poll Kafka with every partition paused meanwhile."""
        if not tasks:
            return

        def waiting() -> bool:
            finished = [task.done() for task in tasks]
            return not (any(finished) if any_of else all(finished))

        when = asyncio.FIRST_COMPLETED if any_of else asyncio.ALL_COMPLETED
        await asyncio.wait(tasks, timeout=LANE_PATIENCE_S, return_when=when)
        if waiting():
            await self._table.poll_paused_while(waiting, self._pulse)
            self._table.resume_positioned()

    async def cancel_all(self) -> None:
        """Cancel the writes in progress and wait for them to end."""
        tasks = list(self._writing.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
