"""Driver errors map once onto the read side's tree, none of it shadowing a builtin."""

from __future__ import annotations

import builtins

import asyncpg
import pytest
from sqlalchemy import exc as sa_exc

from consumer.readside import errors
from consumer.readside.errors import (
    DatabaseConnectionError,
    DatabaseError,
    IntegrityViolation,
    QueryFailed,
    QueryTimedOut,
    map_driver_error,
)


class DriverError(Exception):
    """Stands in for the DB-API error SQLAlchemy's asyncpg dialect wraps."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


def _wrapped(sqlstate: str | None, kind: type[sa_exc.DBAPIError] = sa_exc.DBAPIError) -> Exception:
    return kind("SELECT 1", {}, DriverError("server said no", sqlstate))


@pytest.mark.parametrize(
    ("sqlstate", "expected"),
    [
        ("08006", DatabaseConnectionError),
        ("57P01", DatabaseConnectionError),
        ("53300", DatabaseConnectionError),
        ("57014", QueryTimedOut),
        ("23505", IntegrityViolation),
        ("42P01", QueryFailed),
        ("22012", QueryFailed),
    ],
)
def test_sqlstates_map_onto_the_tree(sqlstate: str, expected: type[DatabaseError]) -> None:
    mapped = map_driver_error(_wrapped(sqlstate))
    assert type(mapped) is expected
    assert mapped.sqlstate == sqlstate
    assert "server said no" in str(mapped)


@pytest.mark.parametrize(
    "raised",
    [
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
        sa_exc.TimeoutError("pool exhausted"),
        _wrapped(None, sa_exc.InterfaceError),
        _wrapped(None, sa_exc.OperationalError),
        asyncpg.CannotConnectNowError("starting up"),
    ],
)
def test_connection_failures_are_retriable(raised: Exception) -> None:
    mapped = map_driver_error(raised)
    assert isinstance(mapped, DatabaseConnectionError)
    assert mapped.retriable


def test_a_read_side_error_passes_through() -> None:
    error = QueryFailed("already mapped")
    assert map_driver_error(error) is error


def test_query_failures_are_not_retriable_but_timeouts_are() -> None:
    assert not map_driver_error(_wrapped("42P01")).retriable
    assert map_driver_error(_wrapped("57014")).retriable


def test_no_error_name_shadows_a_builtin() -> None:
    names = [n for n, v in vars(errors).items() if isinstance(v, type) and n[0].isupper()]
    assert names
    assert not set(names) & set(dir(builtins))
