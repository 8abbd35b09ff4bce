"""Running an operator command: a refusal or a database error becomes one line."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg

from consumer.cli.common import run
from consumer.cli.errors import fail
from consumer.errors import one_line
from consumer.ops.errors import OperationRefused
from consumer.sqlstates import ACCESS_CLASSES, class_of

T = TypeVar("T")


def guarded(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine``; ``OperationRefused`` and query errors end with one line and exit 1."""
    try:
        return run(coroutine)
    except OperationRefused as exc:
        fail(str(exc))
    except asyncpg.UndefinedTableError as exc:
        fail(f"PostgreSQL: {one_line(str(exc))}: run `utxoiq db upgrade` first")
    except asyncpg.PostgresError as exc:
        if class_of(str(exc.sqlstate)) in ACCESS_CLASSES:  # the entry point explains them
            raise
        fail(f"PostgreSQL: {type(exc).__name__}: {one_line(str(exc))}")
