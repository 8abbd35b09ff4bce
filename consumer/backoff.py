"""Capped exponential backoff with jitter."""

from __future__ import annotations

import random


def backoff_delay(
    attempt: int, initial_s: float, maximum_s: float, rng: random.Random | None = None
) -> float:
    """Delay before retry number ``attempt`` (1-based): half fixed, half random.

    The ceiling doubles each attempt from ``initial_s`` up to ``maximum_s``; the jitter
    keeps consumers that failed together from retrying together.
    """
    if attempt < 1:
        raise ValueError("attempt starts at 1")
    ceiling = min(maximum_s, initial_s * 2.0 ** min(attempt - 1, 30))
    jitter: float = (rng or random).uniform(0, ceiling / 2)
    return ceiling / 2 + jitter
