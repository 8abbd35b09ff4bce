"""Helpers shared by the command groups: settings loading and running coroutines."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from pydantic import ValidationError

from consumer.cli.errors import EXIT_USAGE, describe_settings_error, fail
from consumer.settings import Settings

T = TypeVar("T")


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        fail(describe_settings_error(exc), EXIT_USAGE)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop

        return uvloop.run(coroutine)
    except ImportError:  # pragma: no cover - uvloop is absent on Windows
        return asyncio.run(coroutine)
