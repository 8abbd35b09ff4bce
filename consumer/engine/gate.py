"""The gate between the lanes' writes and a rebalance.

A revocation must not return while a batch of a revoked partition is being written, and
no batch may start meanwhile. So the rebalance listener closes the gate, asks the
writes in progress to abandon their retries, and waits until none is left.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator


class WriteGate:
    """Counts the writes in progress; a rebalance closes it and waits for them."""

    def __init__(self) -> None:
        self.abandon = False
        """Set while a rebalance waits: a write being retried gives its batch up."""
        self._writes = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._open = asyncio.Event()
        self._open.set()

    @contextlib.asynccontextmanager
    async def writing(self) -> AsyncIterator[None]:
        """One write, started once no rebalance holds the gate."""
        await self._open.wait()
        self._writes += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._writes -= 1
            if not self._writes:
                self._idle.set()

    @contextlib.asynccontextmanager
    async def closed(self) -> AsyncIterator[None]:
        """Hold new writes back, and wait for those in progress (abandoning their
        retries) before the block runs."""
        self._open.clear()
        self.abandon = True
        try:
            await self._idle.wait()
            yield
        finally:
            self.abandon = False
            self._open.set()
