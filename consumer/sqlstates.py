"""The PostgreSQL SQLSTATEs the service acts on, named once for the consume engine, the
read side, start-up and the operator's commands.

A SQLSTATE is five characters; its first two are its class. The sets here say what the
service does about a state, not what PostgreSQL calls it.
"""

from __future__ import annotations

CONNECTION_CLASS = "08"
"""Connection exceptions: the server went away or never answered."""
ACCESS_CLASSES = frozenset({CONNECTION_CLASS, "28", "3D"})
"""Connection, authorization and missing-database errors: the server cannot be used as
configured; the command line explains them where it connects."""
SERVER_CLASSES = frozenset({"08", "28", "3D", "42", "53", "55", "57", "58", "XX"})
"""Classes of the server or the deployment, never a record's fault: connection,
authorization, catalog name, syntax or access rule, resources, object state, operator
intervention, system and internal errors."""
DATA_CLASSES = frozenset({"22", "23"})
"""Data exceptions and integrity violations: the row's fault at once."""
INTEGRITY_CLASS = "23"

STARTING = frozenset({"57P01", "57P02", "57P03", "53300"})
"""Shutting down, crashed, starting up, too many clients: worth waiting for."""
CONTENTION = frozenset({"40001", "40P01", "55P03", "55006"})
"""Serialization failure, deadlock, lock not available, object in use."""
QUERY_CANCELED = "57014"
"""The statement timeout (or an operator) cancelled the statement."""
RETRIABLE = STARTING | CONTENTION | frozenset({"57P05", "53000", "53100", "53200", QUERY_CANCELED})
"""Known transient, besides the whole connection class."""


def class_of(sqlstate: str) -> str:
    return sqlstate[:2]


def is_unreachable(sqlstate: str) -> bool:
    """The server cannot be reached or is not taking connections yet (or any more)."""
    return class_of(sqlstate) == CONNECTION_CLASS or sqlstate in STARTING


def is_transient(sqlstate: str) -> bool:
    """Retrying may succeed: unreachable, contention, resources, a cancelled statement."""
    return class_of(sqlstate) == CONNECTION_CLASS or sqlstate in RETRIABLE
