"""The alert's signal: how many days ahead the metrics partitions reach.

Refreshed at each scrape of ``/metrics`` (a catalog query, well under a millisecond),
so the gauge is as fresh as the scrape. It falls by one a day when ``utxoiq db
maintain`` stops running; an alert on it (docs/growth.md) fires days before samples
start to wait in the default partition.
"""

from __future__ import annotations

import asyncio
import logging

from consumer.metrics.maintain import partition_days_ahead
from consumer.view import ServiceView
from schemas.topics import Stream

log = logging.getLogger("utxoiq.consumer")


async def refresh_partitions_ahead(service: ServiceView) -> None:
    """Set the gauge from the database; left as it was when the database does not answer
    within ``UTXOIQ_READY_DB_TIMEOUT_S`` (readiness reports that)."""
    pool = service.pool
    if pool is None or not any(p.stream is Stream.METRICS for p in service.pipelines):
        return
    try:
        async with asyncio.timeout(service.settings.ingest.ready_db_timeout_s):
            async with pool.acquire() as conn:
                ahead = await partition_days_ahead(conn)
    except Exception as exc:
        log.warning("cannot read the metrics partitions", extra={"error": type(exc).__name__})
        return
    service.telemetry.partitions_ahead.labels(Stream.METRICS.value).set(ahead)
