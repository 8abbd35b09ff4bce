"""The dead-letter circuit breaker.

When dead letters become most of what flows, the cause is almost never the records: a
broken producer deploy, a schema change or an outage. Draining such a stream into the
DLQ would bury the real events, so the pipeline pauses and raises an alarm instead.
"""

from __future__ import annotations

from collections import deque
from itertools import islice


class DeadLetterBreaker:
    """Trips when the share of dead letters among the last ``window`` records exceeds
    ``threshold``. It judges a batch before it is committed, so the batch that would
    cross the line is held back, not drained. A batch larger than the window is judged
    by its own share of dead letters."""

    def __init__(self, window: int, threshold: float) -> None:
        self.window = window
        self.threshold = threshold
        self._recent: deque[bool] = deque(maxlen=window)
        self._dead = 0

    def _kept(self, total: int, dead: int) -> tuple[int, int]:
        """How many of a batch's records, and of its dead letters, stay in the window."""
        kept = min(total, self.window)
        return kept, dead if kept == total else round(dead * kept / total)

    def _dead_after(self, total: int, dead: int) -> int:
        kept, dead_kept = self._kept(total, dead)
        over = len(self._recent) + kept - self.window
        dropped = sum(islice(self._recent, over)) if over > 0 else 0
        return self._dead - dropped + dead_kept

    def would_trip(self, total: int, dead: int) -> bool:
        """Would recording ``dead`` dead letters among ``total`` records cross the line?"""
        full = len(self._recent) + total >= self.window
        return full and self._dead_after(total, dead) / self.window > self.threshold

    def record(self, total: int, dead: int) -> None:
        self._dead = self._dead_after(total, dead)
        kept, dead_kept = self._kept(total, dead)
        self._recent.extend([False] * (kept - dead_kept) + [True] * dead_kept)

    @property
    def share(self) -> float:
        return self._dead / len(self._recent) if self._recent else 0.0
