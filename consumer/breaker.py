"""The dead-letter circuit breaker.

When dead letters become most of what flows, the cause is almost never the records: a
broken producer deploy, a schema change or an outage. Draining such a stream into the
DLQ would bury the real events, so the pipeline pauses and raises an alarm instead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


class DeadLetterBreaker:
    """Trips when the share of dead letters among the last ``window`` records exceeds
    ``threshold``. It judges a batch before it is committed, so the batch that would
    cross the line is held back, not drained."""

    def __init__(self, window: int, threshold: float) -> None:
        self.window = window
        self.threshold = threshold
        self._recent: deque[bool] = deque(maxlen=window)
        self._dead = 0

    def would_trip(self, dead_flags: Iterable[bool]) -> bool:
        recent = deque(self._recent, maxlen=self.window)
        dead = self._dead
        for flag in dead_flags:
            if len(recent) == self.window and recent[0]:
                dead -= 1
            recent.append(flag)
            dead += flag
        return len(recent) == self.window and dead / self.window > self.threshold

    def record(self, dead_flags: Iterable[bool]) -> None:
        for flag in dead_flags:
            if len(self._recent) == self.window and self._recent[0]:
                self._dead -= 1
            self._recent.append(flag)
            self._dead += flag

    @property
    def share(self) -> float:
        return self._dead / len(self._recent) if self._recent else 0.0
