"""The service's error tree and the one place driver errors are mapped onto it.

    IngestError
    ├── TransientError            retriable: back off, keep the group, move nothing
    │   ├── DatabaseUnavailable       connection lost, server restarting, too many clients
    │   ├── DatabaseContention        deadlock, serialization failure, lock timeout
    │   ├── BrokerUnavailable         a dead letter or commit could not reach Kafka
    │   └── PositionConflict          another member already moved the stored position
    ├── PoisonRecord              not retriable: the record's fault, dead-letter it
    │   ├── ApplyRejected             a valid event the database refuses
    │   │   ├── UnknownJob
    │   │   ├── JobAlreadyExists
    │   │   ├── JobAlreadyFinished
    │   │   ├── BlockOutOfRange
    │   │   └── RowRejected           PostgreSQL data or integrity error (22xxx, 23xxx)
    │   └── (decode and validate failures are schemas.EventRejected)
    ├── BreakerOpen               dead letters are most of what flows: pause, alarm
    └── ConfigurationError        a setting is wrong or missing: stop with one line
        └── PermissionMissing         an ACL or grant the service needs is not given

Each class carries ``retriable``; ``classify`` maps a driver exception onto the tree
once, chained with ``from``.
"""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka import errors as kafka_errors

MAX_ERROR_MESSAGE = 500
"""Dead-letter and log messages are cut to this many characters, on one line."""


class IngestError(Exception):
    """Root of every error this service raises on purpose."""

    retriable: bool = False


class TransientError(IngestError):
    """A failure of the surroundings, not of the records: retry with backoff."""

    retriable = True


class DatabaseUnavailable(TransientError):
    """PostgreSQL cannot be reached or is restarting."""


class DatabaseContention(TransientError):
    """Deadlock, serialization failure or lock timeout: the same work will succeed later."""


class BrokerUnavailable(TransientError):
    """Kafka did not acknowledge a dead letter or a request in time."""


class PositionConflict(TransientError):
    """The position stored in PostgreSQL is not the one this member started the batch from."""


class PoisonRecord(IngestError):
    """The record itself cannot be applied; it goes to the dead-letter topic."""

    stage = "apply"


class ApplyRejected(PoisonRecord):
    """A valid event that the database state refuses."""


class UnknownJob(ApplyRejected):
    """Progress, completion or failure of a job that was never created."""


class JobAlreadyExists(ApplyRejected):
    """A second ``job.created`` for a job that exists, with a higher sequence."""


class JobAlreadyFinished(ApplyRejected):
    """A newer event for a job that is already completed or failed (terminal)."""


class BlockOutOfRange(ApplyRejected):
    """A progress ``current_block`` outside the job's ``[start_block, end_block]``."""


class RowRejected(ApplyRejected):
    """PostgreSQL refused the row: a data exception or an integrity violation."""

    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class BreakerOpen(IngestError):
    """Dead letters crossed the configured share of recent records."""


class ConfigurationError(IngestError):
    """A wrong or missing setting; the process stops with this one-line message."""


class PermissionMissing(ConfigurationError):
    """Kafka or PostgreSQL refuses an operation the service needs (a missing ACL or
    grant): no retry can help, so the process stops with one line naming the resource
    and the operation, having committed nothing past the record it was on."""


RETRIABLE_SQLSTATES = frozenset(
    {"40001", "40P01", "57P01", "57P02", "57P03", "53300", "55P03", "57014"}
)
_CONTENTION = frozenset({"40001", "40P01", "55P03"})


def one_line(text: str, limit: int = MAX_ERROR_MESSAGE) -> str:
    """Collapse whitespace and cut to ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def is_data_error(exc: BaseException) -> bool:
    """True when PostgreSQL (or asyncpg, client side) refuses a row's values."""
    if isinstance(exc, asyncpg.DataError | asyncpg.IntegrityConstraintViolationError):
        return True
    sqlstate = getattr(exc, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate[:2] in ("22", "23")


def row_rejected(exc: BaseException) -> RowRejected:
    sqlstate = getattr(exc, "sqlstate", None)
    return RowRejected(one_line(f"{type(exc).__name__}: {exc}"), sqlstate)


def classify(exc: BaseException) -> IngestError:
    """Map a driver or network exception onto the tree (transient unless proven otherwise)."""
    if isinstance(exc, IngestError):
        return exc
    message = one_line(f"{type(exc).__name__}: {exc}")
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate in _CONTENTION:
            return DatabaseContention(message)
        if sqlstate in RETRIABLE_SQLSTATES or sqlstate.startswith("08"):
            return DatabaseUnavailable(message)
    if isinstance(
        exc,
        OSError
        | asyncio.TimeoutError
        | asyncpg.InterfaceError
        | asyncpg.ConnectionDoesNotExistError
        | asyncpg.PostgresConnectionError,
    ):
        return DatabaseUnavailable(message)
    if isinstance(exc, kafka_errors.KafkaError):
        return BrokerUnavailable(message)
    return DatabaseUnavailable(message)
