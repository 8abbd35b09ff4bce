"""Running pipelines in one process: shared pool and DLQ producer, one consumer each."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

import asyncpg
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError

from consumer.backoff import backoff_delay
from consumer.db.migrate import current_revision, head_revision, is_known_revision, upgrade
from consumer.db.pool import create_pool, keep_session
from consumer.deadletters import DeadLetterPublisher
from consumer.diagnose import exception_chain, kafka_cause
from consumer.engine import PipelineRunner, PipelineStatus
from consumer.errors import ConfigurationError, one_line
from consumer.http import ops_server
from consumer.logs import summarise_client_floods
from consumer.pipelines import Pipeline, build_pipelines
from consumer.ready import announce_ready
from consumer.settings import Settings
from consumer.sqlstates import is_unreachable
from consumer.telemetry import Telemetry
from consumer.topics_admin import DLQ_MAX_MESSAGE_BYTES, ensure_topics, start_or_close
from consumer.writers.staging import staging_tables_of
from schemas.registry import REGISTRY, Registry
from schemas.topics import Stream

log = logging.getLogger("utxoiq.service")

T = TypeVar("T")


async def prepare_schema(settings: Settings) -> None:
    """Bring the schema to the newest migration, or refuse to start when not allowed to.

    A database at a revision this code does not know (migrated by a newer release)
    stops the process with one line whatever the setting: the old code must not write
    to a schema it was not written for.

    Migrations take a PostgreSQL advisory lock, so replicas starting together run them
    once. With ``UTXOIQ_MIGRATE_ON_START=false`` (a runtime role that may not change the
    schema) a database behind the code stops the process with one line.
    """
    current = await current_revision(settings.database)
    head = head_revision()
    if current == head:
        return
    if current is not None and not is_known_revision(current):
        raise ConfigurationError(
            f"database schema is at {current}, which this consumer (at {head}) does not know: "
            "a newer release migrated it; run that release's consumers"
        )
    if not settings.ingest.migrate_on_start:
        raise ConfigurationError(
            f"database schema is at {current or 'nothing'}, expected {head}: "
            "run `utxoiq db upgrade` first"
        )
    log.info("migrating the database schema", extra={"from": current, "to": head})
    await asyncio.to_thread(upgrade, settings.database)


async def until_reachable(
    settings: Settings, what: str, step: Callable[[], Awaitable[T]], stop: asyncio.Event
) -> T | None:
    """Run a start-up step, waiting out a server that cannot be reached yet.

    A broker or database that is down or restarting is waited for, with backoff, up to
    ``UTXOIQ_STARTUP_TIMEOUT_S``; refused credentials, TLS failures and anything else
    fail at once, so a misconfiguration never turns into a retry loop. None when
    ``stop`` is set while waiting.
    """
    deadline = time.monotonic() + settings.ingest.startup_timeout_s
    attempt = 0
    while True:
        try:
            return await step()
        except Exception as exc:
            if time.monotonic() >= deadline or not await unreachable(exc, settings):
                raise
            attempt += 1
            log.warning(
                f"{what} cannot be reached yet; waiting",
                extra={"attempt": attempt, "error": one_line(f"{type(exc).__name__}: {exc}")},
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff_delay(attempt, 0.5, 5.0))
            if stop.is_set():
                return None


async def unreachable(exc: BaseException, settings: Settings) -> bool:
    """True when ``exc`` means the server is down or starting, not that it refused us."""
    if isinstance(exc, KafkaConnectionError):
        cause = await kafka_cause(settings.kafka)
        down = isinstance(cause, OSError | TimeoutError) and not isinstance(cause, ssl.SSLError)
        return cause is None or down
    for error in exception_chain(exc):
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str):
            return is_unreachable(sqlstate)
        if isinstance(error, ssl.SSLError):
            return False
        if isinstance(error, ConnectionError | TimeoutError | asyncpg.CannotConnectNowError):
            return True
    return False


def make_producer(settings: Settings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        max_request_size=DLQ_MAX_MESSAGE_BYTES,
        **settings.kafka.client_options(),
    )


@contextlib.asynccontextmanager
async def dead_letter_producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    producer = make_producer(settings)
    await start_or_close(producer)
    try:
        yield producer
    finally:
        await producer.stop()


def write_pool_size(settings: Settings, pipelines: int) -> int:
    """One connection per write lane of each pipeline, plus one for seeks and checks;
    at most ``UTXOIQ_DB_POOL_MAX_SIZE`` when set (lanes then take turns)."""
    wanted = pipelines * settings.ingest.write_lanes + 1
    cap = settings.database.pool_max_size
    if cap is None or cap >= wanted:
        return wanted
    log.warning(
        "UTXOIQ_DB_POOL_MAX_SIZE is below one connection per write lane: lanes will wait "
        "for connections",
        extra={"pool_max_size": cap, "lanes": pipelines * settings.ingest.write_lanes},
    )
    return cap


@contextlib.asynccontextmanager
async def write_pool(
    settings: Settings, pipelines: Sequence[Pipeline]
) -> AsyncIterator[asyncpg.Pool]:
    """The pipelines' pool, its sessions holding their staging tables. With
    ``async_commit`` its commits do not wait for the WAL flush, unless a batch
    dead-lettered records (see ``consumer.transaction``)."""
    pool = await create_pool(
        settings.database,
        max_size=write_pool_size(settings, len(pipelines)),
        init=staging_tables_of(p.stream for p in pipelines),
        reset=keep_session,
        session={"synchronous_commit": "off"} if settings.ingest.async_commit else None,
    )
    try:
        yield pool
    finally:
        await pool.close()


GC_YOUNG_THRESHOLD = 500_000
"""Net new container objects that start a collection. The batches in flight hold about
100,000 (lanes + 1 batches of 5,000 events), and the steady state makes no cyclic
garbage, so reference counting frees everything and the collector never runs; it still
runs if cycles ever pile up, which bounds them."""


def tune_garbage_collector() -> None:
    """Keep the cyclic collector out of the hot path. A young collection walks every live
    young object, and with 50,000 as the threshold the batches in flight alone crossed it:
    while draining feedback it ran 12 times for 0.27 s, 12% of the consumer's CPU. Objects
    alive at start-up are frozen out of collection altogether."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 50, 100)


class IngestService:
    """The pipelines of one process, started together and stopped together."""

    def __init__(
        self,
        settings: Settings,
        streams: Iterable[Stream] | None = None,
        telemetry: Telemetry | None = None,
        registry: Registry = REGISTRY,
    ) -> None:
        """``registry``: the event types and versions the pipelines accept."""
        self.settings = settings
        self.pipelines: list[Pipeline] = build_pipelines(settings, streams, registry)
        self.telemetry = telemetry or Telemetry()
        self.runners: list[PipelineRunner] = []
        self.ops_port: int | str = "off"
        self.pool: asyncpg.Pool | None = None
        """The write pool the pipelines share, while they run."""

    def statuses(self) -> list[PipelineStatus]:
        """Each running pipeline member's status now (none before they start)."""
        return [runner.status() for runner in self.runners]

    async def settled(self) -> None:
        """Return once every pipeline member has settled (``PipelineRunner.settled``)."""
        await asyncio.gather(*(runner.settled.wait() for runner in self.runners))

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; the first pipeline failure stops the others.

        The operations endpoint (``/metrics``, ``/healthz``, ``/readyz``) serves from
        start-up to exit.
        """
        async with ops_server(self) as server:
            self.ops_port = "off" if server is None else server.port
            summariser = asyncio.create_task(summarise_client_floods())
            try:
                await self._consume(stop)
            finally:
                summariser.cancel()

    async def _consume(self, stop: asyncio.Event) -> None:
        await until_reachable(
            self.settings, "PostgreSQL", lambda: prepare_schema(self.settings), stop
        )
        if self.settings.ingest.create_topics and not stop.is_set():
            await until_reachable(
                self.settings, "Kafka", lambda: ensure_topics(self.settings, self.pipelines), stop
            )
        if stop.is_set():
            return
        async with (
            write_pool(self.settings, self.pipelines) as pool,
            dead_letter_producer(self.settings) as producer,
        ):
            self.pool = pool
            self.runners = [
                PipelineRunner(
                    p, self.settings, pool, DeadLetterPublisher(producer, p.group), self.telemetry
                )
                for p in self.pipelines
            ]
            await self._run_all(stop)

    async def _run_all(self, stop: asyncio.Event) -> None:
        tasks = [asyncio.create_task(r.run(stop), name=r.pipeline.name) for r in self.runners]
        stopper = asyncio.create_task(stop.wait())
        announcer = asyncio.create_task(announce_ready(self))
        try:
            done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
            failed = [t for t in done if t is not stopper and t.exception() is not None]
            stop.set()
            results = await asyncio.wait_for(
                asyncio.gather(*tasks, return_exceptions=True),
                self.settings.ingest.shutdown_timeout_s,
            )
            if failed:
                raise failed[0].exception()  # type: ignore[misc]
            for result in results:
                if isinstance(result, BaseException):
                    raise result
        finally:
            stopper.cancel()
            announcer.cancel()
            for task in tasks:
                task.cancel()
