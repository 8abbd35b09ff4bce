"""Unknown fields of valid events: each (type, field name) logged once per process.

The contract lets a producer add a field before its consumers know it; such a field is
ignored, counted per event type (``utxoiq_unknown_fields_total``) and named once in the
log, at info, so an operator learns that a producer moved ahead. Only names are logged,
never values, escaped and cut short; past ``MAX_NAMES_PER_TYPE`` distinct names a type's
further names are only counted, so a producer that puts data in its field names cannot
flood the log.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

log = logging.getLogger(__name__)

MAX_NAMES_PER_TYPE = 32
MAX_NAME_CHARS = 64


def printable_name(name: str) -> str:
    """The field name with control and non-ASCII characters escaped, cut short."""
    escaped = name.encode("unicode_escape").decode("ascii")
    return escaped if len(escaped) <= MAX_NAME_CHARS else escaped[: MAX_NAME_CHARS - 3] + "..."


class UnknownFieldLog:
    """Remembers which (type, field) pairs were logged; logs each new one once."""

    def __init__(self, max_names_per_type: int = MAX_NAMES_PER_TYPE) -> None:
        self.max_names_per_type = max_names_per_type
        self._logged: dict[str, set[str]] = {}

    def note(self, event_type: str, names: Iterable[str]) -> None:
        logged = self._logged.setdefault(event_type, set())
        for name in names:
            shown = printable_name(name)
            if shown in logged or len(logged) >= self.max_names_per_type:
                continue
            logged.add(shown)
            log.info(
                "unknown field ignored (a producer is ahead of this consumer)",
                extra={"event_type": event_type, "field": shown},
            )
            if len(logged) == self.max_names_per_type:
                log.info(
                    "further unknown field names of this type are only counted",
                    extra={"event_type": event_type, "names_logged": len(logged)},
                )

    def logged(self, event_type: str) -> frozenset[str]:
        """The names logged so far for ``event_type``."""
        return frozenset(self._logged.get(event_type, ()))


UNKNOWN_FIELD_LOG = UnknownFieldLog()
"""The process's log of unknown fields, shared by every pipeline."""
