"""The read side's error tree and the one place driver errors are mapped onto it.

    DatabaseError                 root of every read-side failure
    ├── DatabaseConnectionError       retriable: unreachable, restarting, pool exhausted
    ├── QueryFailed                   the server refused or cancelled the statement
    │   └── QueryTimedOut                 retriable: the statement timeout cut it short
    ├── IntegrityViolation            a constraint refused the statement (SQLSTATE 23xxx)
    ├── RecordNotFound                the record asked for does not exist
    └── InvalidQuery                  bad arguments, raised before any statement is sent

Each class carries ``retriable``; ``map_driver_error`` turns a SQLAlchemy or asyncpg
exception into one of these, and callers raise it ``from`` the original.

A root of its own by design: the read side is imported by the platform's services,
which catch ``DatabaseError`` and never see the consume engine's tree
(``consumer.errors.IngestError``); both read SQLSTATEs through ``consumer.sqlstates``.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import exc as sa_exc

from consumer import sqlstates
from consumer.errors import one_line


class DatabaseError(Exception):
    """Root of every error the read side raises; ``sqlstate`` when the server gave one."""

    retriable: bool = False

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class DatabaseConnectionError(DatabaseError):
    """PostgreSQL could not be reached, is restarting, or no pooled connection was free."""

    retriable = True


class QueryFailed(DatabaseError):
    """The server refused or cancelled the statement."""


class QueryTimedOut(QueryFailed):
    """The statement ran past the configured statement timeout."""

    retriable = True


class IntegrityViolation(DatabaseError):
    """A constraint refused the statement."""


class RecordNotFound(DatabaseError):
    """The record asked for does not exist."""


class InvalidQuery(DatabaseError):
    """The arguments cannot form a valid query; nothing was sent to the database."""


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE carried by a driver exception or the one it wraps, if any."""
    for candidate in (exc, getattr(exc, "orig", None), exc.__cause__):
        state = getattr(candidate, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


def _is_connection_failure(exc: BaseException, sqlstate: str | None) -> bool:
    if sqlstate is not None:
        return sqlstates.is_unreachable(sqlstate)
    return isinstance(
        exc,
        OSError
        | asyncio.TimeoutError
        | sa_exc.TimeoutError
        | sa_exc.InterfaceError
        | sa_exc.OperationalError
        | sa_exc.DisconnectionError,
    ) or bool(getattr(exc, "connection_invalidated", False))


def map_driver_error(exc: BaseException) -> DatabaseError:
    """The read-side error for a driver or network exception (not yet chained)."""
    if isinstance(exc, DatabaseError):
        return exc
    sqlstate = sqlstate_of(exc)
    message = one_line(str(getattr(exc, "orig", None) or exc) or type(exc).__name__)
    if _is_connection_failure(exc, sqlstate):
        return DatabaseConnectionError(message, sqlstate)
    if sqlstate == sqlstates.QUERY_CANCELED:
        return QueryTimedOut(message, sqlstate)
    if sqlstate is not None and sqlstates.class_of(sqlstate) == sqlstates.INTEGRITY_CLASS:
        return IntegrityViolation(message, sqlstate)
    return QueryFailed(message, sqlstate)
