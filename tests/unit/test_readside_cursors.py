"""Opaque page cursors: round trip, binding to one query, refusal of anything else."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from consumer.readside.cursors import (
    cursor_time,
    decode_cursor,
    encode_cursor,
    scope_of,
)
from consumer.readside.errors import InvalidQuery

AT = datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)


def test_a_cursor_round_trips_its_key() -> None:
    scope = scope_of("jobs", ("failed", None))
    cursor = encode_cursor(scope, (AT, "7b6d3f0e-3c43-4c1e-9d55-6b2f1c9d0a11"))
    values = decode_cursor(cursor, scope, 2)
    assert cursor_time(values[0]) == AT
    assert values[1] == "7b6d3f0e-3c43-4c1e-9d55-6b2f1c9d0a11"


def test_a_cursor_is_url_safe_text() -> None:
    cursor = encode_cursor(scope_of("feedback", ()), (AT, "insight/?+", "user&=1"))
    assert cursor.isascii()
    assert not set(cursor) & set("+/=&? ")


def test_scopes_differ_by_kind_and_filters() -> None:
    scopes = {
        scope_of("jobs", (None, None)),
        scope_of("jobs", ("failed", None)),
        scope_of("jobs", (None, "failed")),
        scope_of("feedback", (None, None)),
    }
    assert len(scopes) == 4


def test_a_cursor_of_another_query_is_refused() -> None:
    cursor = encode_cursor(scope_of("jobs", (None, None)), (AT, "x"))
    with pytest.raises(InvalidQuery, match="other filters"):
        decode_cursor(cursor, scope_of("jobs", ("running", None)), 2)


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64 at all!",
        base64.urlsafe_b64encode(b"{}").decode(),
        base64.urlsafe_b64encode(b'["scope", [1, 2]]').decode(),
        base64.urlsafe_b64encode(b'["scope", ["a"]]').decode(),
        "\u00e9\u00e9\u00e9\u00e9",
    ],
)
def test_anything_else_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidQuery):
        decode_cursor(cursor, "scope", 2)


@pytest.mark.parametrize("text", ["yesterday", "2026-05-01T12:00:00"])
def test_cursor_times_must_be_aware_iso_times(text: str) -> None:
    with pytest.raises(InvalidQuery):
        cursor_time(text)
