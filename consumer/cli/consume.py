"""``utxoiq consume``: run the pipelines until SIGTERM or SIGINT."""

from __future__ import annotations

import asyncio
import signal

import typer

from consumer.cli.common import load_settings, run
from consumer.logs import configure_logging
from consumer.service import IngestService, tune_garbage_collector
from schemas.topics import Stream


def consume(
    pipeline: list[Stream] = typer.Option(
        None, "--pipeline", "-p", help="Run only these pipelines (repeatable). Default: all three."
    ),
) -> None:
    """Consume events into PostgreSQL (exactly-once effects, dead letters to <topic>.dlq)."""
    settings = load_settings()
    ingest = settings.ingest
    configure_logging(
        ingest.log_level, ingest.log_format, ingest.startup_timeout_s, ingest.log_flood_interval_s
    )
    tune_garbage_collector()
    run(_consume(IngestService(settings, pipeline or None)))


async def _consume(service: IngestService) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await service.run(stop)
