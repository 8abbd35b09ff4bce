"""Finding the bad rows of a batch by splitting it, inside one transaction.

A merge that fails on an error that may be a row's fault (``Fault.RECORD`` or
``Fault.UNKNOWN``) is retried on each half under a savepoint, down to single rows; the
good rows are applied and only the bad ones are returned. k bad rows among n cost about
k * log2(n) extra statements. An error of the server or the deployment
(``Fault.SURROUNDINGS``) is never split on: it goes up at once.

A data or integrity error on a single row is that row's fault. An error of unknown kind
is a row's fault only when it recurs on that row written alone (a second attempt, under
a savepoint of its own) while the rest of the batch is written without it; a row whose
second attempt succeeds is applied.

The merge itself sets the savepoint it is given, in its first statement (``stage`` does,
in the round trip that empties its staging table), so the usual batch pays no round
trip for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeAlias, TypeVar

import asyncpg

from consumer.errors import ApplyRejected, Fault, fault_of, record_fault, row_rejected

SAVEPOINT = "isolate"
RELEASE = f"RELEASE SAVEPOINT {SAVEPOINT}"
ROLLBACK = f"ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}"

Row = TypeVar("Row")
Result = TypeVar("Result")
Merge: TypeAlias = Callable[[asyncpg.Connection, Sequence[Row], str], Awaitable[Result]]
"""Writes rows; its first statement sets the savepoint named by its last argument, and
nothing before that statement may fail on the rows' data."""
Refused: TypeAlias = list[tuple[Row, ApplyRejected]]


async def write_isolating(
    conn: asyncpg.Connection,
    rows: Sequence[Row],
    write: Merge[Row, Result],
) -> tuple[list[Result], Refused[Row]]:
    """Apply ``write`` to all rows it accepts; return its results and the refused rows
    with the reason (``RowRejected`` or ``RecordFault``)."""
    return await _isolating(conn, rows, write, nested=False)


async def _attempt(
    conn: asyncpg.Connection, rows: Sequence[Row], write: Merge[Row, Result], nested: bool
) -> tuple[Result | None, BaseException | None]:
    """One write under a savepoint: its result, or the error that may be the rows' fault
    (the savepoint rolled back). Any other error goes up."""
    try:
        result = await write(conn, rows, SAVEPOINT)
        if nested:
            await conn.execute(RELEASE)
        return result, None
    except Exception as exc:
        if fault_of(exc) is Fault.SURROUNDINGS:
            raise
        await conn.execute(ROLLBACK)
        return None, exc


async def _isolating(
    conn: asyncpg.Connection,
    rows: Sequence[Row],
    write: Merge[Row, Result],
    *,
    nested: bool,
) -> tuple[list[Result], Refused[Row]]:
    """Each attempt runs under a savepoint of its own (savepoints of one name nest, and
    ``RELEASE`` and ``ROLLBACK TO`` take the latest). The first attempt's savepoint is left
    for the commit to release, saving the usual batch a round trip; the halves release
    theirs, so a search among many bad rows does not nest savepoints ever deeper."""
    if not rows:
        return [], []
    result, error = await _attempt(conn, rows, write, nested)
    if error is None:
        return [result], []  # type: ignore[list-item]
    if len(rows) == 1:
        return await _single_row_failed(conn, rows[0], write, error)
    middle = len(rows) // 2
    left_results, left_bad = await _isolating(conn, rows[:middle], write, nested=True)
    right_results, right_bad = await _isolating(conn, rows[middle:], write, nested=True)
    return left_results + right_results, left_bad + right_bad


async def _single_row_failed(
    conn: asyncpg.Connection, row: Row, write: Merge[Row, Result], error: BaseException
) -> tuple[list[Result], Refused[Row]]:
    """A row that failed alone: refused at once for a data error; for an error of unknown
    kind, written alone once more, and refused only if it fails again."""
    if fault_of(error) is Fault.RECORD:
        return [], [(row, row_rejected(error))]
    result, again = await _attempt(conn, [row], write, nested=True)
    if again is None:
        return [result], []  # type: ignore[list-item]
    return [], [(row, record_fault(again))]
