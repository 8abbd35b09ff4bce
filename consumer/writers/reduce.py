"""Reducing a batch to one winning event per key, and writing the winners.

Reducing first means one statement never touches a row twice (SQLSTATE 21000). When a
winner is refused by the database, the next-best event for that key gets its turn, so a
poison record never makes a good record of the same key look superseded.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import asyncpg

from consumer.errors import ApplyRejected
from consumer.outcomes import Decoded
from consumer.writers.isolate import Merge, write_isolating

Result = TypeVar("Result")
KeyOf = Callable[[Decoded], Hashable]
PrecedenceOf = Callable[[Decoded], Any]


def reduce_by_key(
    items: Sequence[Decoded], key: KeyOf, precedence: PrecedenceOf | None = None
) -> tuple[list[Decoded], list[Decoded]]:
    """The winner per key (highest precedence; the first seen without one) and the rest."""
    winners: dict[Hashable, Decoded] = {}
    losers: list[Decoded] = []
    for item in items:
        k = key(item)
        current = winners.get(k)
        if current is None:
            winners[k] = item
        elif precedence is not None and precedence(item) > precedence(current):
            winners[k] = item
            losers.append(current)
        else:
            losers.append(item)
    return list(winners.values()), losers


@dataclass(slots=True)
class Reduced(Generic[Result]):
    results: list[Result] = field(default_factory=list)
    refused: list[tuple[Decoded, ApplyRejected]] = field(default_factory=list)
    superseded: int = 0


async def write_winners(
    conn: asyncpg.Connection,
    items: Sequence[Decoded],
    key: KeyOf,
    precedence: PrecedenceOf | None,
    merge: Merge[Decoded, Result],
) -> Reduced[Result]:
    """Reduce, merge the winners, and give refused keys their next-best event."""
    outcome: Reduced[Result] = Reduced()
    pending: Sequence[Decoded] = items
    while pending:
        winners, losers = reduce_by_key(pending, key, precedence)
        merged, refused = await write_isolating(conn, winners, merge)
        outcome.results.extend(merged)
        outcome.refused.extend(refused)
        refused_keys = {key(item) for item, _ in refused}
        pending = [item for item in losers if key(item) in refused_keys]
        outcome.superseded += len(losers) - len(pending)
    return outcome
