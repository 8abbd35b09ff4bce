"""The alert's signal: how many days ahead the metrics partitions reach.

Refreshed at each scrape of ``/metrics`` (a catalog query, well under a millisecond),
so the gauge is as fresh as the scrape. It falls by one a day when ``utxoiq db
maintain`` stops running; an alert on it (docs/growth.md) fires days before samples
start to wait in the default partition.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from consumer.metrics.maintain import partition_days_ahead
from schemas.topics import Stream

if TYPE_CHECKING:
    from consumer.service import IngestService

log = logging.getLogger("utxoiq.consumer")


async def refresh_partitions_ahead(service: IngestService) -> None:
    """Set the gauge from the database; left as it was when the database does not answer
    within ``UTXOIQ_READY_DB_TIMEOUT_S`` (readiness reports that)."""
    runners = [r for r in service.runners if r.pipeline.stream is Stream.METRICS]
    if not runners:
        return
    try:
        async with asyncio.timeout(service.settings.ingest.ready_db_timeout_s):
            async with runners[0].pool.acquire() as conn:
                ahead = await partition_days_ahead(conn)
    except Exception as exc:
        log.warning("cannot read the metrics partitions", extra={"error": type(exc).__name__})
        return
    service.telemetry.partitions_ahead.set(ahead)
