"""What a derived ``Struct``'s ``__post_init__`` runs (see ``schemas.structs``): each
field's steps (the model's validators, a time's parsing), then the model's checks."""

from __future__ import annotations

import functools
import keyword
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
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
MICROSECOND_DIGITS = 6
SEVENTH_DIGIT = FRACTION_AT + 1 + MICROSECOND_DIGITS
_ASCII_DIGITS = "0123456789"
_FIRST_UTC = datetime.min.replace(tzinfo=UTC)
_LAST_UTC = datetime.max.replace(tzinfo=UTC)


def cut_to_microseconds(text: str) -> str:
    """``text`` with its fractional seconds cut to six digits: pydantic truncates the
    digits beyond the microsecond, where msgspec would round them. Only ASCII digits
    count (msgspec refuses any other); what follows the fraction is kept."""
    if not (text[SEVENTH_DIGIT : SEVENTH_DIGIT + 1].isdigit() and text[FRACTION_AT] == "."):
        return text  # fewer than seven characters after the point: nothing to cut
    fraction_and_rest = text[FRACTION_AT + 1 :]
    rest = fraction_and_rest.lstrip(_ASCII_DIGITS)
    if len(fraction_and_rest) - len(rest) <= MICROSECOND_DIGITS:
        return text
    return text[: FRACTION_AT + 1 + MICROSECOND_DIGITS] + rest


def moved_to_utc(moment: datetime) -> datetime:
    """``moment`` moved to UTC (``ValueError`` without an offset or beyond the years 1 to
    9999 in UTC)."""
    if moment.tzinfo is UTC:
        return moment
    if moment.tzinfo is None:
        raise ValueError("a time without an offset")
    try:
        return moment.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("outside the years 1 to 9999 in UTC") from exc


@functools.cache
def time_parser(low: datetime | None, high: datetime | None) -> Step:
    """Text to an aware time in UTC within the field's bounds (``ValueError`` otherwise)."""
    convert = msgspec.convert
    bounded = not any_time(low, high)  # else the move to UTC checked them

    def parse(text: str) -> datetime:
        moment = moved_to_utc(convert(cut_to_microseconds(text), datetime))
        if bounded and ((low is not None and moment < low) or (high is not None and moment > high)):
            raise ValueError("outside the field's bounds")
        return moment

    return parse


_SEVEN_DIGITS = re.compile(r"\.[0-9]{7}")
_TZINFO = operator.attrgetter("tzinfo")


def any_time(low: datetime | None, high: datetime | None) -> bool:
    """Whether a time field's bounds are those of every time in UTC (no bounds of its own)."""
    return (low, high) == (_FIRST_UTC, _LAST_UTC)


def only_parses_a_time(steps: list[Step]) -> bool:
    """Whether a field's steps are a time's parsing alone, without bounds of its own."""
    return steps == [time_parser(_FIRST_UTC, _LAST_UTC)]


def parse_times(texts: list[str]) -> list[datetime]:
    """What ``only_parses_a_time``'s steps make of each text, for many texts at once: in
    C calls only when every time is in UTC with at most six fractional digits, the
    usual case; text by text for the fractions to cut when any text has more, and time
    by time for the moves to UTC when any time has another offset. Raises what those
    steps raise."""
    if _SEVEN_DIGITS.search("\n".join(texts)) is not None:
        texts = list(map(cut_to_microseconds, texts))
    moments: list[datetime] = msgspec.convert(texts, list[datetime])
    if any(zone is not UTC for zone in set(map(_TZINFO, moments))):
        moments = list(map(moved_to_utc, moments))
    return moments


@dataclass(frozen=True, slots=True)
class FieldSteps:
    """What ``__post_init__`` does with one field: ``steps`` in order on its value. A
    field with a default (not ``REQUIRED``) is read by msgspec with ``msgspec_default``:
    the default itself when the steps give it back unchanged (then the steps do not run
    on it: ``dataschema``'s ``None``), else ``ABSENT``, replaced by the default without
    the steps (pydantic does not validate defaults)."""

    name: str
    steps: list[Step]
    default: Any = REQUIRED

    @property
    def msgspec_default(self) -> Any:
        return self.default if self.keeps_default() else ABSENT

    def keeps_default(self) -> bool:
        """Whether the steps give the default back as it is (then msgspec may fill it in)."""
        if self.default is REQUIRED:
            return False
        try:
            value = self.default
            for step in self.steps:
                value = step(value)
        except Exception:  # a default the steps refuse: it must not pass through them
            return False
        return value is self.default


def post_init(fields: list[FieldSteps], checks: list[Step]) -> Callable[[Any], None]:
    """One ``__post_init__`` that runs each field's steps, then the model's ``checks``,
    as pydantic does after parsing.

    It is written out as source and compiled once per ``Struct`` (as ``dataclasses``
    writes ``__init__``), so each step is called directly on the value, with no loop,
    runner function or ``getattr`` per field and record."""
    if not fields and len(checks) == 1:
        return checks[0]
    names: dict[str, Any] = {"set_field": msgspec.structs.force_setattr, "ABSENT": ABSENT}
    lines = ["def __post_init__(self):"]
    for number, spec in enumerate(fields):
        if not spec.name.isidentifier() or keyword.iskeyword(spec.name):
            raise TypeError(f"a field named {spec.name!r}")
        call = "value"
        for index, step in enumerate(spec.steps):
            names[f"step_{number}_{index}"] = step
            call = f"step_{number}_{index}({call})"
        names[f"default_{number}"] = spec.default
        lines.append(f"    value = self.{spec.name}")
        if spec.default is REQUIRED:
            lines.append(f"    set_field(self, {spec.name!r}, {call})")
        elif spec.keeps_default():
            lines.append(f"    if value is not default_{number}:")
            lines.append(f"        set_field(self, {spec.name!r}, {call})")
        else:
            value = f"default_{number} if value is ABSENT else {call}"
            lines.append(f"    set_field(self, {spec.name!r}, {value})")
    for index, check in enumerate(checks):
        names[f"check_{index}"] = check
        lines.append(f"    check_{index}(self)")
    exec("\n".join(lines), names)  # source built above from field names only
    function: Callable[[Any], None] = names["__post_init__"]
    return function
