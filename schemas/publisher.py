"""The producer kit: publish utxoIQ events to Kafka the way the contract asks.

``EventPublisher`` validates every event before it is sent (by encoding it and decoding
it back exactly as the consumer will), keys it by its entity, sends it with an
idempotent ``acks=all`` producer and waits for the acknowledgement. Typed helpers
mirror the platform's write operations; the job helpers track each job's ``sequence``.

Usable by producers alone: nothing here imports the ``consumer`` package.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from types import TracebackType
from typing import Any
from uuid import UUID

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

from schemas.building import DEFAULT_SOURCE, as_uuid, build_event, time_ordered_uuid
from schemas.codec import (
    DEFAULT_MAX_EVENT_BYTES,
    EVENT_ADAPTER,
    decode,
    encode,
)
from schemas.events import AnyEvent
from schemas.publishing import (
    BrokerUnreachable,
    JobSequences,
    MetricSample,
    PublishError,
    Sent,
    UnknownJobSequence,
)
from schemas.topics import CONTRACTS, Stream, record_key, stream_of

__all__ = [
    "BrokerUnreachable",
    "EventPublisher",
    "MetricSample",
    "PublishError",
    "Sent",
    "UnknownJobSequence",
]
"""Also importable from here, where they were defined before ``schemas.publishing``."""


class EventPublisher:
    """An idempotent, ``acks=all`` Kafka producer of validated utxoIQ events.

    ``client_options`` are extra ``AIOKafkaProducer`` keyword arguments (security,
    SASL, TLS ...). ``topics`` overrides the contract's default topic of a stream.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        client_options: Mapping[str, Any] | None = None,
        *,
        source: str = DEFAULT_SOURCE,
        topics: Mapping[Stream, str] | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        linger_ms: int = 5,
        ack_timeout_s: float = 30.0,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.source = source
        self.topics = {s: (topics or {}).get(s, CONTRACTS[s].default_topic) for s in Stream}
        self.max_event_bytes = max_event_bytes
        self.ack_timeout_s = ack_timeout_s
        self._options = {
            **(client_options or {}),
            "bootstrap_servers": bootstrap_servers,
            "acks": "all",
            "enable_idempotence": True,
            "linger_ms": linger_ms,
        }
        self._producer: AIOKafkaProducer | None = None
        self._order = asyncio.Lock()
        self._sequences = JobSequences()

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        """Connect to the brokers; raises ``BrokerUnreachable`` when none answers."""
        producer = AIOKafkaProducer(**self._options)
        try:
            await producer.start()
        except (KafkaConnectionError, KafkaTimeoutError, OSError) as exc:
            await producer.stop()
            raise BrokerUnreachable(
                f"cannot reach Kafka at {self.bootstrap_servers}: {type(exc).__name__}: {exc}"
            ) from exc
        self._producer = producer

    async def stop(self) -> None:
        """Flush what is queued and disconnect."""
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await producer.stop()

    async def __aenter__(self) -> EventPublisher:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- sending -----------------------------------------------------------------

    def topic_of(self, event: AnyEvent) -> str:
        return self.topics[stream_of(event)]

    def validated(self, event: AnyEvent) -> bytes:
        """The event's bytes, decoded back as the consumer will; raises ``EventRejected``."""
        value = encode(event)
        decode(value, EVENT_ADAPTER, max_bytes=self.max_event_bytes)
        return value

    async def send(self, event: AnyEvent) -> Sent:
        """Validate, send and wait for the acknowledgement of one event."""
        return (await self.send_many([event]))[0]

    async def send_json(self, value: bytes) -> Sent:
        """Send an event given as JSON bytes, unchanged, once it decodes as a valid event."""
        event: AnyEvent = decode(value, EVENT_ADAPTER, max_bytes=self.max_event_bytes)
        return (await self.send_decoded([(event, value)]))[0]

    async def send_many(self, events: Iterable[AnyEvent]) -> list[Sent]:
        """Validate every event first (nothing is sent if one is invalid), then send them
        all as one batch and wait for every acknowledgement."""
        return await self.send_decoded([(event, self.validated(event)) for event in events])

    async def send_decoded(self, items: Sequence[tuple[AnyEvent, bytes]]) -> list[Sent]:
        """Send (event, bytes) pairs whose bytes were already decoded into that event
        (by ``schemas.decode``), as one batch; wait for every acknowledgement."""
        producer = self._started()
        try:
            async with self._order:
                futures = [
                    await producer.send(self.topic_of(event), value, key=record_key(event).encode())
                    for event, value in items
                ]
            acks = await asyncio.wait_for(asyncio.gather(*futures), self.ack_timeout_s)
        except (KafkaTimeoutError, TimeoutError, KafkaConnectionError) as exc:
            raise BrokerUnreachable(
                f"Kafka at {self.bootstrap_servers} did not acknowledge in time "
                f"(is it up, and do the topics exist?): {type(exc).__name__}: {exc}"
            ) from exc
        except KafkaError as exc:
            raise PublishError(f"Kafka refused the events: {type(exc).__name__}: {exc}") from exc
        return [
            Sent(ack.topic, ack.partition, ack.offset, event.id)
            for (event, _), ack in zip(items, acks, strict=True)
        ]

    def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise PublishError("the publisher is not started (use `async with` or start())")
        return self._producer

    def event(self, event_type: str, data: Mapping[str, Any], at: datetime | None) -> AnyEvent:
        return build_event(event_type, data, source=self.source, at=at)

    # -- backfill jobs -----------------------------------------------------------

    def resume_job(self, job_id: UUID | str, last_sequence: int) -> None:
        """Continue a job created elsewhere: the next event gets ``last_sequence + 1``."""
        self._sequences.resume(as_uuid(job_id), last_sequence)

    def _next_sequence(self, job_id: UUID) -> int:
        return self._sequences.next(job_id)

    async def create_job(
        self,
        job_type: str,
        start_block: int,
        end_block: int,
        created_by: str,
        *,
        job_id: UUID | str | None = None,
        sequence: int = 0,
        at: datetime | None = None,
    ) -> UUID:
        """Publish ``job.created``; returns the job id (a new time-ordered one by default)."""
        uid = time_ordered_uuid() if job_id is None else as_uuid(job_id)
        data = {
            "job_id": uid,
            "job_type": job_type,
            "start_block": start_block,
            "end_block": end_block,
            "created_by": created_by,
            "sequence": sequence,
        }
        await self.send(self.event("utxoiq.backfill.job.created", data, at))
        self._sequences.resume(uid, sequence)
        return uid

    async def progress_job(
        self, job_id: UUID | str, current_block: int, *, at: datetime | None = None
    ) -> Sent:
        """Publish ``job.progress`` with the job's next sequence."""
        uid = as_uuid(job_id)
        data = {"job_id": uid, "current_block": current_block}
        return await self._job_event("utxoiq.backfill.job.progress", uid, data, at)

    async def complete_job(self, job_id: UUID | str, *, at: datetime | None = None) -> Sent:
        """Publish ``job.completed`` (terminal: the job is no longer tracked)."""
        uid = as_uuid(job_id)
        sent = await self._job_event("utxoiq.backfill.job.completed", uid, {"job_id": uid}, at)
        self._sequences.finish(uid)
        return sent

    async def fail_job(
        self, job_id: UUID | str, error_message: str, *, at: datetime | None = None
    ) -> Sent:
        """Publish ``job.failed`` (terminal: the job is no longer tracked)."""
        uid = as_uuid(job_id)
        data = {"job_id": uid, "error_message": error_message}
        sent = await self._job_event("utxoiq.backfill.job.failed", uid, data, at)
        self._sequences.finish(uid)
        return sent

    async def _job_event(
        self, event_type: str, job_id: UUID, data: dict[str, Any], at: datetime | None
    ) -> Sent:
        event = self.event(event_type, {**data, "sequence": self._next_sequence(job_id)}, at)
        return await self.send(event)

    # -- feedback and metrics ----------------------------------------------------

    async def submit_feedback(
        self,
        insight_id: str,
        user_id: str,
        rating: int,
        *,
        comment: str | None = None,
        flags: Iterable[str] = (),
        at: datetime | None = None,
    ) -> Sent:
        """Publish ``insight.feedback.submitted`` (the newest per insight and user wins)."""
        data = {
            "insight_id": insight_id,
            "user_id": user_id,
            "rating": rating,
            "comment": comment,
            "flags": list(flags),
        }
        return await self.send(self.event("utxoiq.insight.feedback.submitted", data, at))

    async def record_metric(
        self,
        service_name: str,
        metric_type: str,
        value: float,
        unit: str,
        *,
        at: datetime | None = None,
    ) -> Sent:
        """Publish one ``system.metric.recorded`` sample (``at``: the sample's time)."""
        sample = MetricSample(service_name, metric_type, value, unit, at)
        return (await self.record_metrics([sample]))[0]

    async def record_metrics(self, samples: Iterable[MetricSample]) -> list[Sent]:
        """Publish many samples as one batch; none is sent if one is invalid."""
        events = [
            self.event(
                "utxoiq.system.metric.recorded",
                {
                    "service_name": s.service_name,
                    "metric_type": s.metric_type,
                    "value": s.value,
                    "unit": s.unit,
                },
                s.at,
            )
            for s in samples
        ]
        return await self.send_many(events)
