"""Bytes to events and back.

``decode`` is the consumer's decode-and-validate stage in one call: the size limit is
checked before any parsing, then one ``TypeAdapter.validate_json`` call parses and
validates straight from bytes. Failures are split the way the dead-letter contract
needs them: ``decode`` when the bytes are not JSON text at all (bad UTF-8, bad syntax,
the ``NaN`` and ``Infinity`` tokens, too large), ``validate`` when they are JSON that
breaks the contract (an unknown ``type`` among them).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import orjson
from pydantic import TypeAdapter, ValidationError

from schemas.events import (
    EARLIEST,
    LATEST,
    NUL_FREE,
    NUL_MESSAGE,
    UTC_RANGE_MESSAGE,
    AnyEvent,
)
from schemas.registry import REGISTRY

DEFAULT_MAX_EVENT_BYTES = 1_048_576
"""Default upper bound on one event's encoded size (Kafka's default record limit)."""

_JSON_SYNTAX_ERRORS = frozenset({"json_invalid", "json_type"})
_MAX_REPORTED_ERRORS = 5
_SHOWN_CHARS = 80
_NON_JSON_NUMBERS = ("NaN", "Infinity", "-Infinity")

_TIME_BOUNDS = {"greater_than_equal": "ge", "less_than_equal": "le"}
_UTC_BOUNDS = frozenset(
    text
    for moment in (EARLIEST, LATEST)
    for text in (str(moment), moment.isoformat().replace("+00:00", "Z"))
)
"""How the validator may spell ``EventTime``'s bounds in its errors."""


class Stage(StrEnum):
    """Where a record was refused: the dead letter's stage (``dlq.error.stage``)."""

    DECODE = "decode"
    """Not parseable JSON text: bad UTF-8, bad syntax, too deep, or too large."""
    VALIDATE = "validate"
    """Well-formed JSON that breaks the contract."""
    APPLY = "apply"
    """A valid event the database refuses (decided by the consumer, not the codec)."""


EVENT_ADAPTER: TypeAdapter[AnyEvent] = REGISTRY.adapter
"""Validates an event of any type of the released contract."""


class Rejection(StrEnum):
    """Why the contract refuses a record's value: the dead letter's error class."""

    EMPTY_VALUE = "EmptyValue"
    """No value at all (a tombstone)."""
    TOO_LARGE = "EventTooLarge"
    """Above the configured maximum event size; not parsed."""
    INVALID_UTF8 = "InvalidUtf8"
    """Bytes that are not UTF-8 text."""
    MALFORMED_JSON = "MalformedJson"
    """UTF-8 text that is not JSON (bad syntax, ``NaN`` or ``Infinity``, nesting too deep)."""
    UNKNOWN_TYPE = "UnknownEventType"
    """Valid JSON whose ``type`` the reader does not accept."""
    CONTRACT_VIOLATION = "ContractViolation"
    """Valid JSON that breaks the contract: a field missing, of the wrong type or range."""


class EventRejected(ValueError):
    """An event's bytes break the contract; ``stage`` says at which step."""

    stage: Stage = Stage.VALIDATE

    def __init__(self, message: str, *, reason: Rejection) -> None:
        super().__init__(message)
        self.reason = reason
        """Why, used as the dead letter's error class."""


class UndecodableEvent(EventRejected):
    """Not parseable JSON text: bad UTF-8, bad syntax, too deep, or too large."""

    stage: Stage = Stage.DECODE


class InvalidEvent(EventRejected):
    """Well-formed JSON that is not a valid event of the expected kind."""

    stage: Stage = Stage.VALIDATE


def shown(text: str) -> str:
    """``text`` quoted, escaped and cut short, for a message that may reach a log."""
    quoted = repr(text)
    return quoted if len(quoted) <= _SHOWN_CHARS else quoted[: _SHOWN_CHARS - 4] + "...'"


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each offending field and why, e.g. ``data.rating: ...``."""
    parts = []
    for item in error.errors(include_url=False, include_input=False)[:_MAX_REPORTED_ERRORS]:
        location = ".".join(str(p) for p in item["loc"] if not _is_union_tag(p))
        parts.append(f"{location or '<event>'}: {_message(item)}")
    hidden = error.error_count() - _MAX_REPORTED_ERRORS
    if hidden > 0:
        parts.append(f"and {hidden} more")
    return "; ".join(parts)


def _message(item: Any) -> str:
    """The validator's message, in the contract's words for its own two rules."""
    kind, context = item["type"], item.get("ctx", {})
    if kind == "string_pattern_mismatch" and context.get("pattern") == NUL_FREE:
        return NUL_MESSAGE
    if kind in _TIME_BOUNDS and str(context.get(_TIME_BOUNDS[kind])) in _UTC_BOUNDS:
        return UTC_RANGE_MESSAGE
    return str(item["msg"])


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part.startswith("utxoiq.")


def may_hold_non_json_numbers(value: bytes) -> bool:
    """Whether ``value`` contains the text of a ``NaN`` or ``Infinity`` token (which the
    JSON parser of pydantic accepts although they are not JSON); a quick test on bytes."""
    return b"NaN" in value or b"Infinity" in value


def _not_utf8(value: bytes) -> UndecodableEvent | None:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError as exc:
        return UndecodableEvent(
            f"not UTF-8 text: byte 0x{value[exc.start]:02x} at position {exc.start} ({exc.reason})",
            reason=Rejection.INVALID_UTF8,
        )
    return None


def refuse_non_json_numbers(value: bytes) -> None:
    """Raise ``UndecodableEvent`` when ``value`` is not JSON text by a strict parser (one
    that refuses ``NaN``); call it when ``may_hold_non_json_numbers`` is true."""
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise _not_utf8(value) or _malformed(value, exc.msg, exc.pos) from exc


def _malformed(value: bytes, message: str, position: int) -> UndecodableEvent:
    text = value.decode("utf-8")
    if text[position:].startswith(_NON_JSON_NUMBERS):
        message = "NaN and Infinity are not JSON numbers"
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    return UndecodableEvent(
        f"not JSON text: {message} at line {line} column {column}",
        reason=Rejection.MALFORMED_JSON,
    )


def _rejected(value: bytes, error: ValidationError) -> EventRejected:
    """The ``EventRejected`` a failed ``validate_json`` of ``value`` stands for."""
    items = error.errors(include_url=False)
    syntax = next((item for item in items if item["type"] in _JSON_SYNTAX_ERRORS), None)
    if syntax is not None:
        return _not_utf8(value) or UndecodableEvent(
            f"not JSON text: {syntax['msg'].removeprefix('Invalid JSON: ')}",
            reason=Rejection.MALFORMED_JSON,
        )
    if any(item["type"] == "union_tag_not_found" for item in items):
        return InvalidEvent("type: Field required", reason=Rejection.CONTRACT_VIOLATION)
    unknown = _unknown_type(items)
    if unknown is not None:
        tag, accepted = unknown
        return InvalidEvent(
            f"type: unknown event type {shown(tag)} (accepted here: {accepted})",
            reason=Rejection.UNKNOWN_TYPE,
        )
    return InvalidEvent(describe_validation_error(error), reason=Rejection.CONTRACT_VIOLATION)


def _unknown_type(items: list[Any]) -> tuple[str, str] | None:
    """(the type, the accepted ones) when the event's ``type`` is not one accepted here:
    a union of models says so by its tag, a single model by its ``type`` literal."""
    for item in items:
        if item["type"] == "union_tag_invalid":
            return str(item["ctx"]["tag"]), str(item["ctx"]["expected_tags"])
        if item["type"] == "literal_error" and tuple(item["loc"]) == ("type",):
            return str(item["input"]), str(item["ctx"]["expected"])
    return None


def decode(
    value: bytes | None,
    adapter: TypeAdapter[Any] = EVENT_ADAPTER,
    *,
    max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> Any:
    """Parse and validate one record value; raise ``EventRejected`` on any failure."""
    if value is None:
        raise UndecodableEvent("record has no value (tombstone)", reason=Rejection.EMPTY_VALUE)
    if len(value) > max_bytes:
        raise UndecodableEvent(
            f"event is {len(value)} bytes, above the maximum of {max_bytes}",
            reason=Rejection.TOO_LARGE,
        )
    if may_hold_non_json_numbers(value):
        refuse_non_json_numbers(value)
    try:
        return adapter.validate_json(value)
    except ValidationError as exc:
        raise _rejected(value, exc) from exc


def encode(event: AnyEvent) -> bytes:
    """The structured-mode JSON bytes of an event (UTF-8, no insignificant spaces)."""
    return orjson.dumps(event.model_dump(mode="json", exclude_none=False))
