"""Bytes to events and back.

``decode`` is the consumer's decode-and-validate stage in one call: the size limit is
checked before any parsing, then one ``TypeAdapter.validate_json`` call parses and
validates straight from bytes. Failures are split the way the dead-letter contract
needs them: ``decode`` when the bytes are not JSON text at all, ``validate`` when they
are JSON that breaks the contract.
"""

from __future__ import annotations

from typing import Any, Literal

import orjson
from pydantic import TypeAdapter, ValidationError

from schemas.events import AnyEvent, Event

DEFAULT_MAX_EVENT_BYTES = 1_048_576
"""Default upper bound on one event's encoded size (Kafka's default record limit)."""

_JSON_SYNTAX_ERRORS = frozenset({"json_invalid", "json_type"})
_MAX_REPORTED_ERRORS = 5

Stage = Literal["decode", "validate"]

EVENT_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(Event)


class EventRejected(ValueError):
    """An event's bytes break the contract; ``stage`` says at which step."""

    stage: Stage = "validate"

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason
        """A short machine-friendly name of the failure, used as the error class."""


class UndecodableEvent(EventRejected):
    """Not parseable JSON text: bad UTF-8, bad syntax, too deep, or too large."""

    stage: Stage = "decode"


class InvalidEvent(EventRejected):
    """Well-formed JSON that is not a valid event of the expected kind."""

    stage: Stage = "validate"


def describe_validation_error(error: ValidationError) -> str:
    """One line naming each offending field and why, e.g. ``data.rating: ...``."""
    parts = []
    for item in error.errors(include_url=False, include_input=False)[:_MAX_REPORTED_ERRORS]:
        location = ".".join(str(p) for p in item["loc"] if not _is_union_tag(p))
        parts.append(f"{location or '<event>'}: {item['msg']}")
    hidden = error.error_count() - _MAX_REPORTED_ERRORS
    if hidden > 0:
        parts.append(f"and {hidden} more")
    return "; ".join(parts)


def _is_union_tag(part: Any) -> bool:
    return isinstance(part, str) and part.startswith("utxoiq.")


def decode(
    value: bytes | None,
    adapter: TypeAdapter[Any] = EVENT_ADAPTER,
    *,
    max_bytes: int = DEFAULT_MAX_EVENT_BYTES,
) -> Any:
    """Parse and validate one record value; raise ``EventRejected`` on any failure."""
    if value is None:
        raise UndecodableEvent("record has no value (tombstone)", reason="EmptyValue")
    if len(value) > max_bytes:
        raise UndecodableEvent(
            f"event is {len(value)} bytes, above the maximum of {max_bytes}",
            reason="EventTooLarge",
        )
    try:
        return adapter.validate_json(value)
    except ValidationError as exc:
        if any(item["type"] in _JSON_SYNTAX_ERRORS for item in exc.errors()):
            raise UndecodableEvent(
                f"not JSON text: {exc.errors()[0]['msg']}", reason="MalformedJson"
            ) from exc
        raise InvalidEvent(describe_validation_error(exc), reason="ContractViolation") from exc


def encode(event: AnyEvent) -> bytes:
    """The structured-mode JSON bytes of an event (UTF-8, no insignificant spaces)."""
    return orjson.dumps(event.model_dump(mode="json", exclude_none=False))
