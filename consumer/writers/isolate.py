"""Finding the bad rows of a batch by splitting it, inside one transaction.

A merge that fails on a data or integrity error is retried on each half under a
savepoint, down to single rows; the good rows are applied and only the bad ones are
returned. k bad rows among n cost about k * log2(n) extra statements.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import asyncpg

from consumer.errors import RowRejected, is_data_error, row_rejected

Row = TypeVar("Row")
Result = TypeVar("Result")


async def write_isolating(
    conn: asyncpg.Connection,
    rows: Sequence[Row],
    write: Callable[[asyncpg.Connection, Sequence[Row]], Awaitable[Result]],
) -> tuple[list[Result], list[tuple[Row, RowRejected]]]:
    """Apply ``write`` to all rows it accepts; return its results and the refused rows."""
    if not rows:
        return [], []
    try:
        async with conn.transaction():
            return [await write(conn, rows)], []
    except Exception as exc:
        if not is_data_error(exc):
            raise
        if len(rows) == 1:
            return [], [(rows[0], row_rejected(exc))]
    middle = len(rows) // 2
    left_results, left_bad = await write_isolating(conn, rows[:middle], write)
    right_results, right_bad = await write_isolating(conn, rows[middle:], write)
    return left_results + right_results, left_bad + right_bad
