"""Running an operator command: a refusal or a database error becomes one line."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import asyncpg

from consumer.cli.common import run
from consumer.cli.errors import fail
from consumer.errors import one_line
from consumer.ops.errors import OperationRefused

T = TypeVar("T")

CONNECTION_CLASSES = ("08", "28", "3D")
"""Connection, authorization and missing-database errors: the entry point explains them."""


def guarded(coroutine: Coroutine[Any, Any, T]) -> T:
    """Run ``coroutine``; ``OperationRefused`` and query errors end with one line and exit 1."""
    try:
        return run(coroutine)
    except OperationRefused as exc:
        fail(str(exc))
    except asyncpg.UndefinedTableError as exc:
        fail(f"PostgreSQL: {one_line(str(exc))}: run `utxoiq db upgrade` first")
    except asyncpg.PostgresError as exc:
        if str(exc.sqlstate)[:2] in CONNECTION_CLASSES:
            raise
        fail(f"PostgreSQL: {type(exc).__name__}: {one_line(str(exc))}")
