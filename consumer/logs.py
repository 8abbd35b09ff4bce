"""Structured logs: one JSON object per line, with the pipeline's coordinates as fields.

The Kafka client (aiokafka) logs at error level what is routine for this service, and
logs it once per attempt. ``ClientLogFilter`` sits on the output handler and keeps the
service's own lines readable:

- while the service starts (before its ``ready`` line, and within
  ``UTXOIQ_STARTUP_TIMEOUT_S``), the client's group-formation noise (the group
  coordinator not available yet, the coordinator marked dead) is demoted to debug;
  after that it is logged at its real level, where it means something;
- a flood of client warnings and errors (thousands a second while a broker is down) is
  summarised: the first line of each cause is logged as it comes, the rest are counted,
  and one line per cause per ``UTXOIQ_LOG_FLOOD_INTERVAL_S`` says how many there were.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info and record.levelno >= logging.ERROR:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(
            f"{k}={v}"
            for k, v in record.__dict__.items()
            if k not in _RESERVED and not k.startswith("_")
        )
        base = f"{record.levelname.lower():7} {record.name}: {record.getMessage()}"
        return f"{base} {extras}" if extras else base


CLIENT_LOGGER = "aiokafka"
SUMMARY_LOGGER = "utxoiq.client"
FORMATION_NOISE = (
    "GroupCoordinatorNotAvailableError",
    "CoordinatorLoadInProgressError",
    "NotCoordinatorError",
    "marking coordinator dead",
    "Marking the coordinator dead",
)
"""What the client logs while a fresh broker forms a consumer group: transient, and
retried by the client itself."""


@dataclass(slots=True)
class _Flood:
    """The lines of one cause within the current interval."""

    since: float
    level: int
    first: str
    repeated: int = 0


class ClientLogFilter(logging.Filter):
    """Demotes the client's group-formation noise while starting; summarises its floods."""

    def __init__(
        self,
        level: int,
        startup_timeout_s: float,
        flood_interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._level = level
        self._clock = clock
        self._starting_until = clock() + startup_timeout_s
        self._ready = False
        self._interval = flood_interval_s
        self._floods: dict[tuple[str, str], _Flood] = {}

    @property
    def interval_s(self) -> float:
        return self._interval

    def service_ready(self) -> None:
        """From now on group-formation noise is logged at its real level."""
        self._ready = True

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(CLIENT_LOGGER):
            return True
        now = self._clock()
        if self._starting(now) and _is_formation_noise(record):
            return self._demote(record)
        if record.levelno < logging.WARNING:
            return True
        self.flush(now)
        return self._first_of_its_cause(record, now)

    def flush(self, now: float | None = None) -> None:
        """Log one summary line for each cause whose interval has ended with lines held back."""
        now = self._clock() if now is None else now
        for cause, flood in list(self._floods.items()):
            if now - flood.since < self._interval:
                continue
            if flood.repeated == 0:
                del self._floods[cause]
                continue
            logging.getLogger(SUMMARY_LOGGER).log(
                flood.level,
                f"{flood.first} (and {flood.repeated} more like it in {now - flood.since:.0f}s)",
                extra={"client_logger": cause[0], "repeated": flood.repeated},
            )
            self._floods[cause] = _Flood(now, flood.level, flood.first)

    def _starting(self, now: float) -> bool:
        return not self._ready and now < self._starting_until

    def _demote(self, record: logging.LogRecord) -> bool:
        if self._level > logging.DEBUG:
            return False
        record.levelno, record.levelname = logging.DEBUG, logging.getLevelName(logging.DEBUG)
        return True

    def _first_of_its_cause(self, record: logging.LogRecord, now: float) -> bool:
        cause = (record.name, str(record.msg))
        flood = self._floods.get(cause)
        if flood is None:
            self._floods[cause] = _Flood(now, record.levelno, record.getMessage())
            return True
        flood.repeated += 1
        flood.level = max(flood.level, record.levelno)
        return False


def _is_formation_noise(record: logging.LogRecord) -> bool:
    message = record.getMessage()
    return any(marker in message for marker in FORMATION_NOISE)


def installed_client_filter() -> ClientLogFilter | None:
    """The filter ``configure_logging`` put on the root handler, if it did."""
    for handler in logging.getLogger().handlers:
        for candidate in handler.filters:
            if isinstance(candidate, ClientLogFilter):
                return candidate
    return None


async def summarise_client_floods() -> None:
    """Close the client's flood intervals on time, even when its lines stop coming."""
    client_filter = installed_client_filter()
    if client_filter is None:
        return
    while True:
        await asyncio.sleep(client_filter.interval_s)
        client_filter.flush()


def configure_logging(
    level: str = "INFO",
    fmt: str = "json",
    startup_timeout_s: float = 60.0,
    flood_interval_s: float = 10.0,
) -> ClientLogFilter:
    """One handler on stderr for every logger, with the client filter on it."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    client_filter = ClientLogFilter(
        logging.getLevelName(level), startup_timeout_s, flood_interval_s
    )
    handler.addFilter(client_filter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger(CLIENT_LOGGER).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    return client_filter
