"""The dead-letter circuit breaker.

When dead letters become most of what flows, the cause is almost never the records: a
broken producer deploy, a schema change or an outage. Draining such a stream into the
DLQ would bury the real events, so the pipeline pauses and raises an alarm instead.

It does not pause for ever: after its cool-down it half-opens and lets one batch through,
committed with its dead letters whatever their share. What follows is judged afresh
(the window starts empty): if dead letters fill more than the threshold of a window
again, it reopens with twice the cool-down (up to a ceiling); once a whole window has
passed without that, it closes and the cool-down is back to its first length. An
operator can close it at once (``utxoiq breaker close``): the held batch then goes
through as in a half-open breaker.

The breaker is pure: it is given the time, and the runner does the waiting.
"""

from __future__ import annotations

from collections import deque
from enum import StrEnum
from itertools import islice


class BreakerState(StrEnum):
    """Where a pipeline's breaker stands."""

    CLOSED = "closed"
    """Batches are judged against the window; one that would cross the line trips it."""
    OPEN = "open"
    """Tripped: the pipeline waits for the cool-down (or an operator's close)."""
    HALF_OPEN = "half_open"
    """Cooled down: the next batch goes through whatever its share, and what follows is
    judged afresh; a whole window without tripping closes it."""


class DeadLetterBreaker:
    """Trips when the share of dead letters among the last ``window`` records exceeds
    ``threshold``. It judges a batch before it is committed, so the batch that would
    cross the line is held back, not drained. A batch larger than the window is judged
    by its own share of dead letters."""

    def __init__(
        self, window: int, threshold: float, cooldown_s: float, max_cooldown_s: float
    ) -> None:
        self.window = window
        self.threshold = threshold
        self.first_cooldown_s = cooldown_s
        self.max_cooldown_s = max(max_cooldown_s, cooldown_s)
        self.cooldown_s = cooldown_s
        self.state = BreakerState.CLOSED
        self.reason = ""
        self.opened_at = 0.0
        self._let_through = False
        self._judged_since_half_open = 0
        self._recent: deque[bool] = deque(maxlen=window)
        self._dead = 0

    # -- the window --------------------------------------------------------------

    def _kept(self, total: int, dead: int) -> tuple[int, int]:
        """How many of a batch's records, and of its dead letters, stay in the window."""
        kept = min(total, self.window)
        return kept, dead if kept == total else round(dead * kept / total)

    def _dead_after(self, total: int, dead: int) -> int:
        kept, dead_kept = self._kept(total, dead)
        over = len(self._recent) + kept - self.window
        dropped = sum(islice(self._recent, over)) if over > 0 else 0
        return self._dead - dropped + dead_kept

    def _clear_window(self) -> None:
        self._recent.clear()
        self._dead = 0

    @property
    def share(self) -> float:
        return self._dead / len(self._recent) if self._recent else 0.0

    # -- judging and recording -----------------------------------------------------

    def would_trip(self, total: int, dead: int) -> bool:
        """Would committing ``dead`` dead letters among ``total`` records cross the line?
        Never for the batch a half-open (or operator-closed) breaker lets through."""
        if self._let_through:
            return False
        full = len(self._recent) + total >= self.window
        return full and self._dead_after(total, dead) / self.window > self.threshold

    def record(self, total: int, dead: int) -> None:
        """Count a committed batch. The batch let through is not counted: what follows
        it is judged afresh. A half-open breaker closes once a whole window passed."""
        if self._let_through:
            self._let_through = False
            return
        self._dead = self._dead_after(total, dead)
        kept, dead_kept = self._kept(total, dead)
        self._recent.extend([False] * (kept - dead_kept) + [True] * dead_kept)
        if self.state is BreakerState.HALF_OPEN:
            self._judged_since_half_open += total
            if self._judged_since_half_open >= self.window:
                self._close()

    # -- state changes -------------------------------------------------------------

    def trip(self, reason: str, now: float) -> None:
        """Open (a no-op when open already). Tripping again while half-open doubles the
        cool-down, up to its ceiling."""
        if self.state is BreakerState.OPEN:
            return
        if self.state is BreakerState.HALF_OPEN:
            self.cooldown_s = min(self.cooldown_s * 2, self.max_cooldown_s)
        self.state = BreakerState.OPEN
        self.reason = reason
        self.opened_at = now

    def remaining_s(self, now: float) -> float:
        """Seconds left of the cool-down (0 when not open)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(self.opened_at + self.cooldown_s - now, 0.0)

    def half_open(self) -> None:
        """After the cool-down: let the next batch through and judge what follows afresh."""
        self.state = BreakerState.HALF_OPEN
        self._let_through = True
        self._judged_since_half_open = 0
        self._clear_window()

    def close_now(self) -> None:
        """An operator's close: closed at once, the held batch let through."""
        self._close()
        self._let_through = True
        self._clear_window()

    def _close(self) -> None:
        self.state = BreakerState.CLOSED
        self.reason = ""
        self.cooldown_s = self.first_cooldown_s
