"""Turning failures into one-line messages and exit codes (never a traceback)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import NoReturn, TypeVar

from pydantic import ValidationError

T = TypeVar("T")

EXIT_FAILURE = 1
EXIT_USAGE = 2


def describe_settings_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        name = ".".join(str(p) for p in item["loc"]) or error.title
        parts.append(f"{name}: {item['msg']}")
    return f"invalid setting ({error.title}): " + "; ".join(parts)


def fail(message: str, code: int = EXIT_FAILURE) -> NoReturn:
    print(f"utxoiq: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def parsed(option: str, parse: Callable[[str], T], text: str | None) -> T | None:
    """``parse(text)``, or a one-line usage error naming ``option``; None stays None."""
    if text is None:
        return None
    try:
        return parse(text)
    except ValueError as exc:
        prefix = f"{option}: " if option else ""
        fail(f"{prefix}{exc}", EXIT_USAGE)
