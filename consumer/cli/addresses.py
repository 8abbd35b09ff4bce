"""Where the command line's broker and database addresses come from.

``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` are read from the environment. When
one of them is not set, the command line looks for the local stack's address file
(``.stack/env``, written by ``deploy/stack.sh up``) in the current folder and its
parents, and takes the address from there; failing both, the built-in default holds.
So a command typed in any terminal of the project reaches the stack ``make run`` uses.
``config show`` says where each address came from, and a failure to reach an address
that did not come from the environment says how to start the stack or point elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from consumer.diagnose import explain_database, explain_kafka, kafka_cause
from consumer.errors import ConfigurationError
from consumer.settings import DatabaseSettings, KafkaSettings, load

STACK_ENV = Path(".stack") / "env"

ADDRESS_VARIABLES: dict[str, tuple[str, ...]] = {
    "KAFKA_BOOTSTRAP_SERVERS": ("KAFKA_BOOTSTRAP_SERVERS", "UTXOIQ_KAFKA_BOOTSTRAP_SERVERS"),
    "DATABASE_URL": ("DATABASE_URL", "UTXOIQ_DB_URL"),
}
"""Each address by its conventional name, with every variable it may be read from."""


class Origin(StrEnum):
    """Where an address came from."""

    ENVIRONMENT = "environment"
    """Set in the environment of the command."""
    LOCAL_STACK = "local stack"
    """Not set; read from the local stack's ``.stack/env``."""
    DEFAULT = "default"
    """Not set and no local stack found: the built-in default."""


@dataclass(frozen=True, slots=True)
class AddressSource:
    origin: Origin
    path: Path | None = None
    """The address file, for ``LOCAL_STACK``."""

    def describe(self) -> str:
        if self.origin is Origin.LOCAL_STACK:
            return f"the local stack ({self.path})"
        if self.origin is Origin.DEFAULT:
            return "the built-in default"
        return "the environment"

    def unreachable_hint(self, variable: str) -> str | None:
        """What to do when the address does not answer; None for an address from the
        environment (the explanation then names the settings to check)."""
        if self.origin is Origin.LOCAL_STACK:
            return (
                f"this is the local stack's address (from {self.path}): start the stack "
                f"with `make stack-up` in the project folder, or set {variable}"
            )
        if self.origin is Origin.DEFAULT:
            return (
                f"{variable} is not set and no local stack was found ({STACK_ENV}): start "
                f"one with `make stack-up` in the project folder, or set {variable}"
            )
        return None


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines (``export`` and quotes allowed, ``#`` comments skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def find_stack_env(start: Path) -> Path | None:
    """The nearest ``.stack/env`` in ``start`` or one of its parents."""
    for folder in (start, *start.parents):
        candidate = folder / STACK_ENV
        if candidate.is_file():
            return candidate
    return None


def _is_set(environ: Mapping[str, str], name: str) -> bool:
    return any(environ.get(variable) for variable in ADDRESS_VARIABLES[name])


def adopt_local_stack(environ: MutableMapping[str, str], start: Path) -> dict[str, AddressSource]:
    """Fill each unset address from the nearest ``.stack/env``; say where each came from."""
    sources: dict[str, AddressSource] = {}
    found = (
        find_stack_env(start) if not all(_is_set(environ, n) for n in ADDRESS_VARIABLES) else None
    )
    stack = read_env_file(found) if found is not None else {}
    for name in ADDRESS_VARIABLES:
        if _is_set(environ, name):
            sources[name] = AddressSource(Origin.ENVIRONMENT)
        elif stack.get(name):
            environ[name] = stack[name]
            sources[name] = AddressSource(Origin.LOCAL_STACK, found)
        else:
            sources[name] = AddressSource(Origin.DEFAULT)
    return sources


class AddressBook:
    """The sources the command line settled on at start (``main`` fills it once)."""

    def __init__(self) -> None:
        self._sources: dict[str, AddressSource] = {}

    def adopt(self, environ: MutableMapping[str, str], start: Path) -> None:
        self._sources = adopt_local_stack(environ, start)

    def source(self, name: str) -> AddressSource:
        if name in self._sources:
            return self._sources[name]
        return AddressSource(Origin.ENVIRONMENT if _is_set(os.environ, name) else Origin.DEFAULT)

    def unreachable_hint(self, name: str) -> str | None:
        return self.source(name).unreachable_hint(name)


ADDRESSES = AddressBook()


def database_address() -> str:
    """The database URL as configured, password masked; empty when it is not valid."""
    try:
        return load(DatabaseSettings).masked_url()
    except ConfigurationError:
        return ""


def explain_database_failure(exc: BaseException) -> str | None:
    """One line for a failure to reach or be let in by PostgreSQL, naming the address
    tried and, when it did not come from the environment, how to start the stack."""
    return explain_database(exc, database_address(), ADDRESSES.unreachable_hint("DATABASE_URL"))


async def explain_kafka_failure(kafka: KafkaSettings) -> str:
    """One line for a failure to reach or be let in by Kafka, naming the address tried."""
    hint = ADDRESSES.unreachable_hint("KAFKA_BOOTSTRAP_SERVERS")
    return explain_kafka(kafka, await kafka_cause(kafka), hint)
