"""The service's error tree and the one place driver errors are mapped onto it.

    IngestError
    ├── TransientError            retriable: back off, keep the group, move nothing
    │   ├── DatabaseUnavailable       connection lost, server restarting, too many clients
    │   ├── DatabaseContention        deadlock, serialization failure, lock timeout
    │   ├── BrokerUnavailable         a dead letter or commit could not reach Kafka
    │   ├── PositionConflict          another member already moved the stored position
    │   └── UnexplainedFailure        an error of unknown kind outside any one record's write
    ├── PoisonRecord              not retriable: the record's fault, dead-letter it
    │   ├── ApplyRejected             a valid event the database refuses
    │   │   ├── UnknownJob
    │   │   ├── JobAlreadyExists
    │   │   ├── JobAlreadyFinished
    │   │   ├── BlockOutOfRange
    │   │   ├── RowRejected           PostgreSQL data or integrity error (22xxx, 23xxx)
    │   │   └── RecordFault           an error of unknown kind that recurs on one record alone
    │   └── (decode and validate failures are schemas.EventRejected)
    ├── BreakerOpen               dead letters are most of what flows: pause, alarm
    ├── DeploymentError           the server or the deployment, not curable by retrying:
    │                             stop with one line naming the cause
    └── ConfigurationError        a setting is wrong or missing: stop with one line

Each class carries ``retriable``; ``classify`` maps a driver exception onto the tree
once, chained with ``from``; ``fault_of`` says whose fault an error raised while
writing records is (``Fault``).
"""

from __future__ import annotations

import asyncio
from enum import StrEnum

import asyncpg
from aiokafka import errors as kafka_errors

from consumer import sqlstates
from consumer.sqlstates import class_of
from schemas.codec import Stage

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


class UnexplainedFailure(TransientError):
    """An error of unknown kind raised outside the write of any one record (so no record
    can be blamed): retried with backoff, under the retry-budget alarm and liveness."""


class PoisonRecord(IngestError):
    """The record itself cannot be applied; it goes to the dead-letter topic."""

    stage = Stage.APPLY


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


class RecordFault(ApplyRejected):
    """An error of unknown kind that recurred on this record written alone, while the
    rest of its batch was written without it. ``error_class`` names the original error."""

    def __init__(self, message: str, error_class: str) -> None:
        super().__init__(message)
        self.error_class = error_class


class BreakerOpen(IngestError):
    """Dead letters crossed the configured share of recent records."""


class DeploymentError(IngestError):
    """The server or the deployment refuses the work in a way retrying cannot cure (a
    missing grant or table, a corrupt page, a dead-letter topic that refuses writes).
    Never a record's fault: nothing is dead-lettered, and the service stops with this
    one-line message."""

    def __init__(self, message: str, sqlstate: str | None = None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


class ConfigurationError(IngestError):
    """A wrong or missing setting; the process stops with this one-line message."""


class Fault(StrEnum):
    """Whose fault an error raised while writing records is."""

    RECORD = "record"
    """A row's values are refused (data or integrity error): isolate it, dead-letter it."""
    UNKNOWN = "unknown"
    """An error of no known kind: isolate it; the record's fault only when it recurs on
    that record alone and the batch without it is written."""
    SURROUNDINGS = "surroundings"
    """The server, the deployment or the network: never a record's fault; the error
    goes up (retried when transient, otherwise the service stops)."""


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


def record_fault(exc: BaseException) -> RecordFault:
    """The dead-letter reason for an error of unknown kind found to be a record's fault."""
    return RecordFault(one_line(str(exc) or type(exc).__name__), type(exc).__name__)


_NETWORK = (
    OSError
    | asyncio.TimeoutError
    | asyncpg.InterfaceError
    | asyncpg.ConnectionDoesNotExistError
    | asyncpg.PostgresConnectionError
)


def fault_of(exc: BaseException) -> Fault:
    """Whose fault an error raised while writing records is (pure)."""
    if isinstance(exc, PoisonRecord):
        return Fault.RECORD
    if isinstance(exc, IngestError):
        return Fault.SURROUNDINGS
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        if class_of(sqlstate) in sqlstates.DATA_CLASSES:
            return Fault.RECORD
        if class_of(sqlstate) in sqlstates.SERVER_CLASSES or sqlstates.is_transient(sqlstate):
            return Fault.SURROUNDINGS
    if is_data_error(exc):
        return Fault.RECORD
    if isinstance(exc, _NETWORK | kafka_errors.KafkaError | asyncio.CancelledError):
        return Fault.SURROUNDINGS
    return Fault.UNKNOWN


def classify(exc: BaseException) -> IngestError:
    """Map a driver or network exception onto the tree. Only errors known to be transient
    are retriable; the other errors of the server or the deployment are a
    ``DeploymentError``; an error of unknown kind here, outside any one record's write,
    is an ``UnexplainedFailure`` (retried, under the alarms)."""
    if isinstance(exc, IngestError):
        return exc
    message = one_line(f"{type(exc).__name__}: {exc}")
    sqlstate = getattr(exc, "sqlstate", None)
    if isinstance(sqlstate, str):
        if sqlstate in sqlstates.CONTENTION:
            return DatabaseContention(message)
        if sqlstates.is_transient(sqlstate):
            return DatabaseUnavailable(message)
        if class_of(sqlstate) in sqlstates.SERVER_CLASSES:
            return DeploymentError(f"PostgreSQL refused the work: {message}", sqlstate)
    if isinstance(exc, _NETWORK):
        return DatabaseUnavailable(message)
    if isinstance(exc, kafka_errors.KafkaError):
        if getattr(exc, "retriable", False) or isinstance(exc, _KAFKA_TRANSIENT):
            return BrokerUnavailable(message)
        return DeploymentError(f"Kafka refused the work: {message}")
    if is_data_error(exc):
        return row_rejected(exc)
    return UnexplainedFailure(message)


_KAFKA_TRANSIENT = (
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.RequestTimedOutError,
    kafka_errors.NodeNotReadyError,
)
