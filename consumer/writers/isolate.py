"""Finding the bad rows of a batch by splitting it, inside one transaction.

A merge that fails on a data or integrity error is retried on each half under a
savepoint, down to single rows; the good rows are applied and only the bad ones are
returned. k bad rows among n cost about k * log2(n) extra statements.

The merge itself sets the savepoint it is given, in its first statement (``stage`` does,
in the round trip that empties its staging table), so the usual batch pays no round
trip for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeAlias, TypeVar

import asyncpg

from consumer.errors import RowRejected, is_data_error, row_rejected

SAVEPOINT = "isolate"
RELEASE = f"RELEASE SAVEPOINT {SAVEPOINT}"
ROLLBACK = f"ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"

Row = TypeVar("Row")
Result = TypeVar("Result")
Merge: TypeAlias = Callable[[asyncpg.Connection, Sequence[Row], str], Awaitable[Result]]
"""Writes rows; its first statement sets the savepoint named by its last argument, and
nothing before that statement may fail on the rows' data."""


async def write_isolating(
    conn: asyncpg.Connection,
    rows: Sequence[Row],
    write: Merge[Row, Result],
) -> tuple[list[Result], list[tuple[Row, RowRejected]]]:
    """Apply ``write`` to all rows it accepts; return its results and the refused rows."""
    return await _isolating(conn, rows, write, nested=False)


async def _isolating(
    conn: asyncpg.Connection,
    rows: Sequence[Row],
    write: Merge[Row, Result],
    *,
    nested: bool,
) -> tuple[list[Result], list[tuple[Row, RowRejected]]]:
    """Each attempt runs under a savepoint of its own (savepoints of one name nest, and
    ``RELEASE`` and ``ROLLBACK TO`` take the latest). The first attempt's savepoint is left
    for the commit to release, saving the usual batch a round trip; the halves release
    theirs, so a search among many bad rows does not nest savepoints ever deeper."""
    if not rows:
        return [], []
    try:
        result = await write(conn, rows, SAVEPOINT)
        if nested:
            await conn.execute(RELEASE)
        return [result], []
    except Exception as exc:
        if not is_data_error(exc):
            raise
        await conn.execute(ROLLBACK)
        if len(rows) == 1:
            return [], [(rows[0], row_rejected(exc))]
    middle = len(rows) // 2
    left_results, left_bad = await _isolating(conn, rows[:middle], write, nested=True)
    right_results, right_bad = await _isolating(conn, rows[middle:], write, nested=True)
    return left_results + right_results, left_bad + right_bad
