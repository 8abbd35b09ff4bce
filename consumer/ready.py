"""The one ``ready`` line of a consumer process: what it consumes, from where, to where.

Logged once, when every pipeline's member has joined its group and sought its
partitions to their stored positions; from then on the client's group-formation noise
is logged at its real level (``consumer.logs.ClientLogFilter``).
"""

from __future__ import annotations

import logging
from typing import Any

from consumer.logs import installed_client_filter
from consumer.view import ServiceView

log = logging.getLogger("utxoiq.service")


def ready_fields(service: ServiceView) -> dict[str, Any]:
    """The ready line's fields; addresses carry no user name and no password."""
    settings = service.settings
    statuses = service.statuses()
    return {
        "pipelines": [status.pipeline for status in statuses],
        "partitions": {status.pipeline: sorted(status.positions) for status in statuses},
        "kafka": settings.kafka.bootstrap_servers,
        "database": settings.database.address(),
        "ops_port": service.ops_port,
    }


async def announce_ready(service: ServiceView) -> None:
    """Wait until every pipeline has settled (``PipelineRunner.settled``), then log the
    ready line once."""
    await service.settled()
    log.info("ready", extra=ready_fields(service))
    client_filter = installed_client_filter()
    if client_filter is not None:
        client_filter.service_ready()
