"""The dead-letter filter options of ``utxoiq dlq``, stated once.

A command decorated with ``filtered(...)`` takes the filter options it names (each with
the same flag, help and checking everywhere) and receives them as one
``chosen: DeadLetterFilter``.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import typer

from consumer.cli.errors import EXIT_USAGE, fail, parsed
from consumer.coordinates import RecordId
from consumer.ops.arguments import TIME_FORMS, parse_record_id, parse_when
from consumer.ops.dlq_selection import DeadLetterFilter
from consumer.vocabulary import DeadLetterStatus, Stage


class Option(StrEnum):
    """A filter option, by its parameter name."""

    TOPIC = "topic"
    STAGE = "stage"
    ERROR_CLASS = "error_class"
    STATUS = "status"
    SINCE = "since"
    UNTIL = "until"
    KEY = "key"
    LIMIT = "limit"
    IDS = "ids"


SUMMARY = (
    Option.TOPIC,
    Option.STAGE,
    Option.ERROR_CLASS,
    Option.STATUS,
    Option.SINCE,
    Option.UNTIL,
)
"""The options of a count: which records, not how many."""
RECORDS = (*SUMMARY, Option.KEY, Option.LIMIT)
"""The options of a command that reads records."""
ACTION = (Option.IDS, *RECORDS)
"""The options of a command that acts on records, which may also be named one by one."""


def _one_of(vocabulary: type[StrEnum]) -> str:
    """``a, b or c``: the values of an enum, for a help text."""
    *first, last = (member.value for member in vocabulary)
    return f"{', '.join(first)} or {last}"


_PARAMETERS: dict[Option, tuple[str, Any]] = {
    Option.TOPIC: ("str | None", typer.Option(None, "--topic", help="Source topic.")),
    Option.STAGE: ("str | None", typer.Option(None, "--stage", help=f"{_one_of(Stage)}.")),
    Option.ERROR_CLASS: (
        "str | None",
        typer.Option(None, "--error-class", help="e.g. UnknownJob, MalformedJson."),
    ),
    Option.STATUS: (
        "str | None",
        typer.Option(None, "--status", help=f"{_one_of(DeadLetterStatus)}."),
    ),
    Option.SINCE: (
        "str | None",
        typer.Option(None, "--since", metavar="T", help=f"Failed at or after T: {TIME_FORMS}."),
    ),
    Option.UNTIL: (
        "str | None",
        typer.Option(None, "--until", metavar="T", help=f"Failed before T: {TIME_FORMS}."),
    ),
    Option.KEY: ("str | None", typer.Option(None, "--key", help="Record key (UTF-8).")),
    Option.LIMIT: (
        "int | None",
        typer.Option(None, "--limit", metavar="N", help="At most N records."),
    ),
    Option.IDS: (
        "list[str] | None",
        typer.Argument(None, metavar="[TOPIC:PARTITION:OFFSET]...", help="Only these records."),
    ),
}


def record_id(text: str) -> RecordId:
    """One TOPIC:PARTITION:OFFSET argument; a bad one ends the command with one line."""
    parsed_id = parsed("", parse_record_id, text)
    assert parsed_id is not None
    return parsed_id


def selection(values: dict[str, Any]) -> DeadLetterFilter:
    """The filter the options' values describe; a bad value ends the command with one line."""
    since, until, key = values.get("since"), values.get("until"), values.get("key")
    try:
        return DeadLetterFilter(
            topic=values.get("topic"),
            stage=values.get("stage"),
            error_class=values.get("error_class"),
            status=values.get("status"),
            since=parsed("--since", parse_when, since),
            until=parsed("--until", parse_when, until),
            key=None if key is None else key.encode(),
            limit=values.get("limit"),
            ids=tuple(dict.fromkeys(record_id(text) for text in values.get("ids") or ())),
        )
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)


Command = Callable[..., None]


def filtered(options: tuple[Option, ...]) -> Callable[[Command], Command]:
    """Give a command the filter ``options``; it receives them as ``chosen``."""

    def decorate(command: Command) -> Command:
        signature = inspect.signature(command)
        own = [p for p in signature.parameters.values() if p.name != "chosen"]
        added = [
            inspect.Parameter(
                option.value, inspect.Parameter.KEYWORD_ONLY, default=_PARAMETERS[option][1]
            )
            for option in options
        ]

        @functools.wraps(command)
        def run(**values: Any) -> None:
            chosen = selection({option: values.pop(option.value) for option in options})
            command(chosen=chosen, **values)

        annotations = {k: v for k, v in command.__annotations__.items() if k != "chosen"}
        annotations.update({option.value: _PARAMETERS[option][0] for option in options})
        run.__annotations__ = annotations
        run.__signature__ = signature.replace(parameters=[*own, *added])  # type: ignore[attr-defined]
        return run

    return decorate
