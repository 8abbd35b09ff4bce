"""Why an operator command refused to act."""

from __future__ import annotations

from consumer.errors import IngestError


class OperationRefused(IngestError):
    """The operation cannot run as asked (a live group, a missing record, a bad argument);
    the message says why and what to do."""
