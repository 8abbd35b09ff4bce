"""The read side: the platform's queries over what the ingestion engine wrote."""

from consumer.readside.errors import (
    DatabaseConnectionError,
    DatabaseError,
    IntegrityViolation,
    InvalidQuery,
    QueryFailed,
    QueryTimedOut,
    RecordNotFound,
)
from consumer.readside.models import Interval
from consumer.readside.service import DatabaseService

__all__ = [
    "DatabaseConnectionError",
    "DatabaseError",
    "DatabaseService",
    "IntegrityViolation",
    "Interval",
    "InvalidQuery",
    "QueryFailed",
    "QueryTimedOut",
    "RecordNotFound",
]
