"""Opaque page cursors: the last row's sort key, bound to the query that made it."""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from consumer.readside.errors import InvalidQuery


def scope_of(kind: str, filters: Sequence[object]) -> str:
    """A short tag naming the query a cursor belongs to (its kind and filters)."""
    text = orjson.dumps([kind, [None if f is None else str(f) for f in filters]])
    return hashlib.sha256(text).hexdigest()[:12]


def encode_cursor(scope: str, key: Sequence[datetime | str]) -> str:
    """The cursor after a row whose sort key is ``key``."""
    values = [v.isoformat() if isinstance(v, datetime) else str(v) for v in key]
    return base64.urlsafe_b64encode(orjson.dumps([scope, values])).decode().rstrip("=")


def _unpack(cursor: str) -> Any:
    padded = cursor + "=" * (-len(cursor) % 4)
    try:
        return orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise InvalidQuery("cursor is not one this service issued") from None


def decode_cursor(cursor: str, scope: str, size: int) -> list[str]:
    """The raw key values of ``cursor``; refused when it belongs to another query."""
    payload = _unpack(cursor)
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not isinstance(payload[1], list)
        or len(payload[1]) != size
        or not all(isinstance(v, str) for v in payload[1])
    ):
        raise InvalidQuery("cursor is not one this service issued")
    if payload[0] != scope:
        raise InvalidQuery("cursor belongs to a query with other filters")
    return list(payload[1])


def cursor_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidQuery("cursor is not one this service issued") from None
    if parsed.tzinfo is None:
        raise InvalidQuery("cursor is not one this service issued")
    return parsed
