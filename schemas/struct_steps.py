"""What a derived ``Struct``'s ``__post_init__`` runs (see ``schemas.structs``): each
field's steps (the model's validators, a time's parsing), then the model's checks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import msgspec
from pydantic_core import PydanticUndefined

Step = Callable[[Any], Any]

ABSENT: Any = msgspec.UNSET
"""The msgspec default of a field with steps and a default: left out, not ``null``."""
REQUIRED = PydanticUndefined
"""The default of a required field."""

FRACTION_AT = 19
"""Where the fractional seconds of a time msgspec reads begin (``YYYY-MM-DDTHH:MM:SS.``)."""
SEVENTH_DIGIT = FRACTION_AT + 7
_FIRST_UTC = datetime.min.replace(tzinfo=UTC)
_LAST_UTC = datetime.max.replace(tzinfo=UTC)


def time_parser(low: datetime | None, high: datetime | None) -> Step:
    """Text to an aware time in UTC within the field's bounds (``ValueError`` otherwise)."""
    convert = msgspec.convert
    bounded = (low, high) != (_FIRST_UTC, _LAST_UTC)  # else the move to UTC checked them

    def parse(text: str) -> datetime:
        if text[SEVENTH_DIGIT : SEVENTH_DIGIT + 1].isdigit() and text[FRACTION_AT] == ".":
            raise ValueError("more than six fractional digits")
        moment = convert(text, datetime)
        if moment.tzinfo is not UTC:
            if moment.tzinfo is None:
                raise ValueError("a time without an offset")
            try:
                moment = moment.astimezone(UTC)
            except OverflowError as exc:
                raise ValueError("outside the years 1 to 9999 in UTC") from exc
        if bounded and ((low is not None and moment < low) or (high is not None and moment > high)):
            raise ValueError("outside the field's bounds")
        return moment

    return parse


def field_runner(name: str, step: Step, default: Any) -> Callable[[Any], None]:
    """Sets the field to ``step`` of its value; to ``default`` (without ``step``: pydantic
    does not validate defaults) when it was left out."""
    set_field = msgspec.structs.force_setattr
    if default is REQUIRED:

        def run(self: Any) -> None:
            set_field(self, name, step(getattr(self, name)))

        return run

    def run_or_default(self: Any) -> None:
        value = getattr(self, name)
        set_field(self, name, default if value is ABSENT else step(value))

    return run_or_default


def chained(steps: list[Step]) -> Step:
    if len(steps) == 1:
        return steps[0]

    def chained(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return chained


def post_init(runners: list[Callable[[Any], None]]) -> Callable[[Any], None]:
    """Runs each field's steps, then the model's checks, as pydantic does after parsing."""
    if len(runners) == 1:
        return runners[0]

    def __post_init__(self: Any) -> None:
        for run in runners:
            run(self)

    return __post_init__
