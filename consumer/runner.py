"""The consume loop of one pipeline: a thin loop over named stages.

fetch (gather a micro-batch) -> decode -> apply (reduce, write, dead-letter, store the
position: ``transaction.apply_batch``) -> commit to Kafka (for lag tools only).

Write lanes. A member's partitions are spread over ``UTXOIQ_WRITE_LANES`` lanes by
partition number. The loop gathers a batch for a free lane, decodes it, and hands it
over; when every lane is busy it waits for the first to finish. Free lanes with records
already fetched for them come first, and a lane whose last gather came back empty comes
last; a gather that has found nothing of its own polls in short slices while other lanes
have records waiting, and gives way as soon as one of them is free, so quiet partitions
do not delay busy ones. A gather also takes
what the client has fetched for the busy lanes' partitions and carries it, in offset
order, into their next batches: left in the client's buffer, those records would keep
it from fetching their partitions again, and what the broker received meanwhile would
wait a whole write more. Each lane applies its batches one after the other, in its own
transactions, so a partition's records (and so an entity's) are applied in offset
order. Meanwhile the other lanes write, so the consumer's CPU work and the database's
overlap. With a single lane, its next batch is gathered and decoded while it writes.
Lanes never share a partition, so their positions never conflict.

Only this loop polls Kafka. A lane that must wait (a transient failure being retried,
the dead-letter circuit breaker open) just sleeps; when the loop has waited for a lane
longer than a moment it pauses every partition and keeps polling, so the member stays
in its group and nothing is fetched that would have to be dropped. Positions come from
PostgreSQL: partitions are paused when assigned and resumed once sought to their stored
position; nothing is skipped and nothing is dead-lettered for a transient failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
from aiokafka import TopicPartition as KafkaTopicPartition

from consumer.backoff import backoff_delay
from consumer.batching import Batch, BatchLimits
from consumer.breaker import DeadLetterBreaker
from consumer.breaker_control import BreakerControl
from consumer.carry import Carry
from consumer.coordinates import TopicPartition
from consumer.deadletters import DeadLetterPublisher
from consumer.decoding import DecodedBatch, decode_batch, decode_batch_yielding
from consumer.errors import (
    BreakerOpen,
    DeploymentError,
    PositionConflict,
    TransientError,
    classify,
)
from consumer.grants import explain_denied
from consumer.lanes import choose_lane, lane_of
from consumer.offset_mirror import OffsetMirror
from consumer.outcomes import BatchReport
from consumer.pipelines import Pipeline
from consumer.positions import advance_positions, load_positions
from consumer.redelivery import DeadLetterMarks
from consumer.retention import RetentionLoss, log_starts, retention_losses
from consumer.settings import Settings
from consumer.telemetry import Telemetry
from consumer.topics_admin import start_or_close
from consumer.transaction import apply_batch, wait_for_flush

log = logging.getLogger("utxoiq.consumer")

IDLE_POLL_MS = 500
FETCH_MAX_WAIT_MS = 50
"""How long the broker may hold a fetch for more data. aiokafka keeps one fetch in
flight per broker, so a long wait on caught-up partitions starves the others."""
MAX_PARTITION_FETCH_BYTES = 4 * 1024 * 1024
FRESH_FETCH_MS = 5
SMALL_BATCH_FRACTION = 4
"""A small batch due on age as soon as it is gathered holds records that waited in the
fetch buffer while their lane wrote; the client fetches those partitions again only once
they are taken. One short poll more (``FRESH_FETCH_MS`` at most) takes what the broker
received meanwhile, which would otherwise wait for the lane's next batch. Only for a
batch under a quarter of ``UTXOIQ_BATCH_MAX_RECORDS``: in a drain, where the loop bounds
the rate, the poll's wait cost more than the fuller batches gained."""
GIVE_WAY_POLL_MS = 2
"""A gather with nothing of its own polls in slices this long while records are carried
for other lanes, so it gives way within about this long once one of them is free."""
LANE_PATIENCE_S = 1.0
"""How long the loop waits for a lane before pausing every partition to poll while it
waits (a healthy batch is written well within this)."""
SLEEP_SLICE_S = 0.1
AUDIT_INTERVAL_S = 5.0
"""How often an idle loop checks its positions against the stored ones."""


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, runner: PipelineRunner) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: set[KafkaTopicPartition]) -> None:
        await self._runner.release(revoked)

    async def on_partitions_assigned(self, assigned: set[KafkaTopicPartition]) -> None:
        self._runner.take(assigned)


class PipelineRunner:
    """Runs one pipeline's consumer until ``stop`` is set."""

    def __init__(
        self,
        pipeline: Pipeline,
        settings: Settings,
        pool: asyncpg.Pool,
        publisher: DeadLetterPublisher,
        telemetry: Telemetry,
    ) -> None:
        self.pipeline = pipeline
        self.settings = settings
        self.pool = pool
        self.publisher = publisher
        self.telemetry = telemetry
        ingest = settings.ingest
        self.limits = BatchLimits(
            ingest.batch_max_records, ingest.batch_max_bytes, ingest.batch_max_age_ms / 1000
        )
        self.lanes = ingest.write_lanes
        self.positions: dict[TopicPartition, int | None] = {}
        self.unpositioned: set[TopicPartition] = set()
        self.settled = asyncio.Event()
        """Set once the member has joined its group and sought every partition it was
        given (maybe none) to its stored position."""
        self.dead_marks = DeadLetterMarks()
        self.last_progress = time.monotonic()
        self.loop_heartbeat = time.monotonic()
        self._writing: dict[int, asyncio.Task[None]] = {}
        self._carried = Carry()
        self._dry_lanes: set[int] = set()  # lanes whose last gather found no records
        self._busy = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._not_rebalancing = asyncio.Event()
        self._not_rebalancing.set()
        self._abandon = False
        self._audited_at = time.monotonic()
        self._generation = 0
        self._consumer: AIOKafkaConsumer | None = None
        self._log = {"pipeline": pipeline.name, "topic": pipeline.topic, "group": pipeline.group}
        self._mirror = OffsetMirror(lambda: self._consumer, self._log)
        breaker = DeadLetterBreaker(
            ingest.breaker_window,
            ingest.breaker_threshold,
            ingest.breaker_cooldown_s,
            ingest.breaker_max_cooldown_s,
        )
        self.breaker = BreakerControl(breaker, pool, pipeline.group, telemetry, self._log)

    @property
    def breaker_open(self) -> bool:
        """Whether the dead-letter breaker holds this pipeline back now."""
        return self.breaker.open

    # -- lifecycle -------------------------------------------------------------

    def make_consumer(self) -> AIOKafkaConsumer:
        ingest = self.settings.ingest
        return AIOKafkaConsumer(
            group_id=self.pipeline.group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=self.limits.max_records,
            session_timeout_ms=ingest.session_timeout_ms,
            heartbeat_interval_ms=max(ingest.session_timeout_ms // 10, 1000),
            max_poll_interval_ms=ingest.max_poll_interval_ms,
            rebalance_timeout_ms=ingest.max_poll_interval_ms,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            max_partition_fetch_bytes=MAX_PARTITION_FETCH_BYTES,
            **self.settings.kafka.client_options(),
        )

    async def run(self, stop: asyncio.Event) -> None:
        consumer = self._consumer = self.make_consumer()
        consumer.subscribe([self.pipeline.topic], listener=_Rebalance(self))
        await start_or_close(consumer)
        log.info("pipeline started", extra=self._log)
        lane = 0
        try:
            while not stop.is_set():
                self.loop_heartbeat = time.monotonic()
                self._reap_finished()
                if self.unpositioned:
                    await self._wait_for_lanes(list(self._writing), stop)
                    await self._seek_to_stored_positions(stop)
                    continue
                lane = await self._next_lane(lane, stop)
                if stop.is_set():
                    break
                partitions = self._partitions_of(lane)
                if partitions is None:
                    continue
                batch = await self._gather(consumer, stop, partitions)
                if not batch:
                    self._dry_lanes.add(lane)
                    await self._audit_positions()
                    continue
                self._dry_lanes.discard(lane)
                work = await decode_batch_yielding(
                    batch, self.pipeline.accepts, self.settings.ingest.max_event_bytes
                )
                await self._wait_for_lanes([lane], stop)
                if stop.is_set():
                    break
                self._writing[lane] = asyncio.create_task(self._apply(work, stop))
            await self._wait_for_lanes(list(self._writing), stop)
        finally:
            for task in self._writing.values():
                task.cancel()
            for task in self._writing.values():
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await self._mirror.flush()
            await self.breaker.stopped()
            await consumer.stop()
            self._consumer = None
            log.info("pipeline stopped", extra=self._log)

    def _reap_finished(self) -> None:
        """Forget the lanes whose batch is done; a batch that failed (an error the
        service stops for) raises here, even while the loop finds nothing to gather."""
        for lane in [lane for lane, task in self._writing.items() if task.done()]:
            self._writing.pop(lane).result()

    def _partitions_of(self, lane: int) -> list[KafkaTopicPartition] | None:
        """The positioned partitions of a lane (partition number modulo lanes) to fetch
        for; [] for all of them (a single lane, or none positioned yet, so the loop still
        polls); None when the lane has none while others do."""
        if self.lanes == 1 or not self.positions:
            return []
        mine = [
            KafkaTopicPartition(tp.topic, tp.partition)
            for tp in self.positions
            if lane_of(tp.partition, self.lanes) == lane
        ]
        return mine or None

    async def _next_lane(self, last: int, stop: asyncio.Event) -> int:
        """The lane to gather for next: with one lane, that lane (its next batch is
        gathered and decoded while it writes); with several, ``choose_lane``'s free lane
        among those with partitions, in turn after ``last``, waiting for one to finish
        when none is free, so a batch is gathered when its lane can take it and no
        decoded batch waits."""
        if self.lanes == 1:
            return 0
        while True:
            order = [(last + step) % self.lanes for step in range(1, self.lanes + 1)]
            order = [lane for lane in order if self._partitions_of(lane) is not None]
            if not order:
                return (last + 1) % self.lanes
            done = [lane for lane, task in self._writing.items() if task.done()]
            await self._wait_for_lanes(done, stop)
            carried = [records for records, _ in self._carried.held_per_lane(self.lanes)]
            chosen = choose_lane(order, self._writing, carried, self._dry_lanes)
            if chosen is not None:
                return chosen
            if stop.is_set():
                return order[0]
            await self._wait_for_any_lane(stop)

    async def _wait_for_any_lane(self, stop: asyncio.Event) -> None:
        """Wait until one lane has finished its batch, and reap it."""
        await self._await_tasks(list(self._writing.values()), any_of=True)
        await self._wait_for_lanes(
            [lane for lane, task in self._writing.items() if task.done()], stop
        )

    async def _wait_for_lanes(self, lanes: list[int], stop: asyncio.Event) -> None:
        """Wait until the given lanes have finished their batches, and reap them."""
        await self._await_tasks([self._writing[lane] for lane in lanes if lane in self._writing])
        for lane in lanes:
            task = self._writing.get(lane)
            if task is not None and task.done():
                del self._writing[lane]
                task.result()

    async def _await_tasks(self, tasks: list[asyncio.Task[None]], any_of: bool = False) -> None:
        """Wait for all (or any) of ``tasks``; once that takes longer than
        ``LANE_PATIENCE_S``, poll Kafka with every partition paused meanwhile."""
        if not tasks:
            return

        def waiting() -> bool:
            finished = [task.done() for task in tasks]
            return not (any(finished) if any_of else all(finished))

        when = asyncio.FIRST_COMPLETED if any_of else asyncio.ALL_COMPLETED
        await asyncio.wait(tasks, timeout=LANE_PATIENCE_S, return_when=when)
        if waiting():
            await self._poll_paused_while(waiting)
            self._resume_positioned()

    # -- rebalance ---------------------------------------------------------------

    async def release(self, revoked: set[KafkaTopicPartition]) -> None:
        """Let the batches being written finish (or abandon their retries), then forget
        the positions. No batch starts until they are forgotten, so none can apply
        records of a revoked partition."""
        self._generation += 1
        self._not_rebalancing.clear()
        self._abandon = True
        try:
            await self._idle.wait()
            await self._mirror.flush()  # the revoked partitions' last positions, while owned
        finally:
            self._abandon = False
            self._not_rebalancing.set()
        for tp in revoked:
            key = TopicPartition(tp.topic, tp.partition)
            self._mirror.forget(key)
            self.positions.pop(key, None)
            self.unpositioned.discard(key)
            self._carried.drop(key)
            self.dead_marks.forget(key)
        self.telemetry.rebalances.labels(self.pipeline.name, "revoked").inc()
        self.telemetry.assigned.labels(self.pipeline.name).set(len(self.positions))
        if revoked:
            log.info("partitions revoked", extra={**self._log, "partitions": _names(revoked)})

    def take(self, assigned: set[KafkaTopicPartition]) -> None:
        """Pause new partitions until they are sought to their stored positions."""
        self._generation += 1
        if self._consumer is not None and assigned:
            self._consumer.pause(*assigned)
        for tp in assigned:
            key = TopicPartition(tp.topic, tp.partition)
            self.unpositioned.add(key)
            self._carried.drop(key)
        self.telemetry.rebalances.labels(self.pipeline.name, "assigned").inc()
        self.telemetry.assigned.labels(self.pipeline.name).set(len(assigned))
        if assigned:
            log.info("partitions assigned", extra={**self._log, "partitions": _names(assigned)})
        else:
            self.settled.set()

    async def _seek_to_stored_positions(self, stop: asyncio.Event) -> None:
        consumer = self._consumer
        assert consumer is not None
        wanted = set(self.unpositioned)
        generation = self._generation
        try:
            async with self.pool.acquire() as conn:
                stored = await load_positions(conn, self.pipeline.group, wanted)
                await self.dead_marks.load(conn, self.pipeline.topic, wanted)
        except Exception as exc:
            error = classify(exc)
            if isinstance(error, DeploymentError):
                raise await explain_denied(self.pool, error) from exc
            self._count_retry(error)
            log.warning("cannot read stored positions", extra={**self._log, "error": str(error)})
            await self._poll_paused(self._delay(1), stop)
            return
        if generation != self._generation:
            return  # a rebalance ran meanwhile: start again from its assignment
        mine = {tp: p for tp, p in stored.items() if tp in self.unpositioned}
        starts = await log_starts(consumer, list(mine), self._log)
        if generation != self._generation:
            return
        losses = retention_losses(mine, starts)
        if losses:
            recorded = await self._record_losses(losses)
            if generation != self._generation:
                return
            stored.update({loss.partition: loss.log_start for loss in recorded})
        assignment = consumer.assignment()
        never = [
            ktp
            for tp in wanted
            if tp not in stored
            and tp in self.unpositioned
            and (ktp := KafkaTopicPartition(tp.topic, tp.partition)) in assignment
        ]
        if never:
            await consumer.seek_to_beginning(*never)
            if generation != self._generation:
                return  # a rebalance ran meanwhile: its partitions are sought next time
        # From here on nothing awaits, so no rebalance can change the assignment.
        sought: dict[TopicPartition, int] = {}
        for tp in wanted:
            ktp = KafkaTopicPartition(tp.topic, tp.partition)
            if ktp not in assignment:
                self.unpositioned.discard(tp)
                continue
            if tp not in self.unpositioned:
                continue
            if tp in stored:
                consumer.seek(ktp, stored[tp])
                sought[tp] = stored[tp]
            self.positions[tp] = stored.get(tp)
            self.unpositioned.discard(tp)
        self._resume_positioned()  # also what a failed read paused
        self._mirror.submit(sought)
        if not self.unpositioned:
            self.settled.set()
        log.info(
            "resuming from stored positions",
            extra={**self._log, "positions": {f"{t.partition}": p for t, p in stored.items()}},
        )

    async def _record_losses(self, losses: list[RetentionLoss]) -> list[RetentionLoss]:
        """Raise the alarm for records Kafka deleted below the stored positions, and move
        those positions to the log start by compare-and-set, so the loss is reported once
        (by whichever member records it) instead of at every assignment. The losses
        recorded; one not recorded (another member moved the position first, or the
        database is unreachable) leaves its position as it was."""
        recorded = []
        for loss in losses:
            tp = loss.partition
            try:
                async with self.pool.acquire() as conn, conn.transaction():
                    await advance_positions(
                        conn, self.pipeline.group, {tp: loss.stored}, {tp: loss.log_start}
                    )
                    # a lost move would report the loss twice
                    await wait_for_flush(conn, self.settings.ingest.async_commit)
            except PositionConflict:
                continue  # another member got there first, and reported it
            except Exception as exc:
                log.warning(
                    "cannot record the retention loss; it is reported again next time",
                    extra={**self._log, "partition": tp.partition, "error": str(exc)},
                )
            else:
                recorded.append(loss)
            self.telemetry.lost_to_retention.labels(self.pipeline.name).inc(loss.records)
            log.error(
                "ALARM records removed by Kafka retention before they were consumed",
                extra={
                    **self._log,
                    "partition": tp.partition,
                    "stored_position": loss.stored,
                    "log_start": loss.log_start,
                    "records": loss.records,
                },
            )
        return recorded

    # -- fetch -------------------------------------------------------------------

    async def _gather(
        self,
        consumer: AIOKafkaConsumer,
        stop: asyncio.Event,
        partitions: list[KafkaTopicPartition],
    ) -> Batch:
        """A batch from ``partitions`` (all when empty): first what was carried for them,
        then fetched records. With one lane, an idle loop waits ``IDLE_POLL_MS`` for
        records; with several, a batch age at most, and while it has nothing of its own
        and records are carried for other lanes, in polls of ``GIVE_WAY_POLL_MS``, giving
        way as soon as one of those lanes is free. Records fetched for other lanes are
        carried for them."""
        batch = Batch(self.limits)
        mine = {TopicPartition(k.topic, k.partition) for k in partitions}
        self._carried.take_into(batch, mine)
        if batch.at_limit():
            return batch
        idle_s = IDLE_POLL_MS / 1000 if not partitions else self.limits.max_age_s
        started = time.monotonic()
        first = True
        while True:
            wait_s = self.limits.max_age_s - batch.age() if batch else idle_s
            sliced = not batch and bool(partitions) and bool(self._carried)
            if sliced:  # short polls, to give way as soon as another lane can go
                wait_s = min(idle_s - (time.monotonic() - started), GIVE_WAY_POLL_MS / 1000)
            timeout_ms = max(int(wait_s * 1000), 0)
            fetched = await self._poll(consumer, partitions, mine, batch, timeout_ms)
            if stop.is_set() or self.unpositioned or not (batch or fetched or sliced):
                return batch
            if not batch and (
                time.monotonic() - started >= idle_s or self._another_lane_ready(partitions)
            ):
                return batch  # nothing of its own yet: another lane's turn
            if batch.is_full():
                small = len(batch) < self.limits.max_records // SMALL_BATCH_FRACTION
                if first and small and batch.size_bytes < self.limits.max_bytes:
                    await self._poll(consumer, partitions, mine, batch, FRESH_FETCH_MS)
                return batch
            first = False

    def _another_lane_ready(self, partitions: list[KafkaTopicPartition]) -> bool:
        """Whether a lane other than that of ``partitions`` (one lane's; with none, all
        of them) is free, or has just finished, and has records carried for it."""
        if not partitions:
            return False
        lane = lane_of(partitions[0].partition, self.lanes)
        for other, (records, _) in enumerate(self._carried.held_per_lane(self.lanes)):
            task = self._writing.get(other)
            if other != lane and records and (task is None or task.done()):
                return True
        return False

    async def _poll(
        self,
        consumer: AIOKafkaConsumer,
        partitions: list[KafkaTopicPartition],
        mine: set[TopicPartition],
        batch: Batch,
        timeout_ms: int,
    ) -> Mapping[KafkaTopicPartition, list[Any]]:
        """One poll for a batch from ``partitions`` (all when empty; ``mine``, the same as
        keys): its records go into ``batch``, other lanes' are carried for them. What was
        fetched."""
        fetching, budget = self._fetchable(partitions, batch)
        fetched: Mapping[KafkaTopicPartition, list[Any]] = await consumer.getmany(
            *fetching, timeout_ms=timeout_ms, max_records=budget
        )
        self._add_fetched(batch, fetched, mine)
        return fetched

    def _fetchable(
        self, partitions: list[KafkaTopicPartition], batch: Batch
    ) -> tuple[list[KafkaTopicPartition], int]:
        """What to take from the client for a batch from ``partitions`` (all when empty):
        those, and the partitions of other lanes that carry less than a batch (in records
        and in bytes); and how many records at most: the batch's room, plus the least
        room among those lanes, so that whichever lane the client's records go to, none
        carries more than two batches' worth of records."""
        budget = max(batch.room, 1)
        if not partitions:
            return [], budget
        fetching = list(partitions)
        held = self._carried.held_per_lane(self.lanes)
        lane = lane_of(partitions[0].partition, self.lanes)
        limits = self.limits
        rooms = []
        for other in range(self.lanes):
            records, size = held[other]
            if other == lane or records >= limits.max_records or size >= limits.max_bytes:
                continue
            positioned = self._partitions_of(other)
            if positioned:
                fetching += positioned
                rooms.append(limits.max_records - records)
        return fetching, budget + min(rooms, default=0)

    def _add_fetched(
        self,
        batch: Batch,
        fetched: Mapping[KafkaTopicPartition, list[Any]],
        mine: set[TopicPartition],
    ) -> None:
        """Add fetched records of ``mine`` (all when empty) to ``batch`` as far as it has
        room, and carry the rest; skip partitions not held (or not yet sought) and records
        below their stored positions."""
        for ktp, messages in fetched.items():
            tp = TopicPartition(ktp.topic, ktp.partition)
            if tp not in self.positions or tp in self.unpositioned:
                continue
            floor = self.positions[tp]
            if floor is not None and messages and messages[0].offset < floor:
                messages = [m for m in messages if m.offset >= floor]
            self._carried.route(batch, tp, messages, mine)

    # -- apply with retries --------------------------------------------------------

    async def _apply(self, work: DecodedBatch, stop: asyncio.Event) -> None:
        """Apply one lane's batch, retrying transient failures; never polls Kafka."""
        await self._not_rebalancing.wait()
        self._busy += 1
        self._idle.clear()
        try:
            await self._apply_with_retries(work, stop)
        finally:
            self._busy -= 1
            if not self._busy:
                self._idle.set()

    async def _apply_with_retries(self, work: DecodedBatch, stop: asyncio.Event) -> None:
        """Apply the owned part of a batch until it commits, or until the partitions are
        given up. Transient failures are retried with backoff; a batch the breaker holds
        back waits for the breaker; an error of the server or the deployment that
        retrying cannot cure stops the pipeline (and with it the service)."""
        deadline: float | None = None
        attempt = 0
        while True:
            work = self._owned_part(work)
            if not work.batch:
                return
            try:
                report, tally = await self._apply_once(work)
            except BreakerOpen as exc:
                await self.breaker.tripped(str(exc), lambda: stop.is_set() or self._abandon)
                if self._abandon or stop.is_set():
                    self._reposition_all()
                    return
                continue
            except PositionConflict as exc:
                log.warning(
                    "position moved elsewhere; re-reading", extra={**self._log, "error": str(exc)}
                )
                self._reposition_all()
                return
            except TransientError as exc:
                attempt += 1
                self._count_retry(exc, attempt)
                if stop.is_set() and deadline is None:
                    deadline = time.monotonic() + self.settings.ingest.shutdown_timeout_s / 2
                if self._gives_up(deadline):
                    return
                await self._sleep(self._delay(attempt), stop)
                continue
            except DeploymentError as exc:
                raise await explain_denied(self.pool, exc) from exc
            await self.breaker.committed(*tally)
            self._committed(work.batch, report)
            self._mirror_to_kafka(work.batch)
            return

    def _gives_up(self, deadline: float | None) -> bool:
        """After a transient failure: whether to abandon the batch (a rebalance takes its
        partitions, or stopping has waited long enough); it is fetched again later."""
        if not self._abandon and (deadline is None or time.monotonic() <= deadline):
            return False
        log.warning("batch abandoned; it will be fetched again", extra=self._log)
        self._reposition_all()
        return True

    async def _apply_once(self, work: DecodedBatch) -> tuple[BatchReport, tuple[int, int]]:
        """One attempt at a batch: its report, and the (records, dead letters) the breaker
        judged it by."""
        tally = (0, 0)

        def breaker_trips(records: int, dead: int) -> bool:
            nonlocal tally
            tally = (records, dead)
            return self.breaker.trips(records, dead)

        report = await apply_batch(
            self.pool,
            self.pipeline,
            work,
            {tp: self.positions[tp] for tp in work.batch.parts},
            self.publisher,
            breaker_trips=breaker_trips,
            async_commit=self.settings.ingest.async_commit,
            marks=self.dead_marks,
        )
        return report, tally

    async def _audit_positions(self) -> None:
        """When idle, check that the stored positions are not behind the ones this member
        holds; they are when PostgreSQL crashed and lost a commit made without waiting for
        the WAL flush. Then every partition is sought again, so a quiet partition does not
        wait for its next record to have those records applied again."""
        if not self.settings.ingest.async_commit or self._writing:
            return
        now = time.monotonic()
        if now - self._audited_at < AUDIT_INTERVAL_S:
            return
        self._audited_at = now
        held = {tp: p for tp, p in self.positions.items() if p is not None}
        if not held or self.unpositioned:
            return
        try:
            async with self.pool.acquire() as conn:
                stored = await load_positions(conn, self.pipeline.group, held)
        except Exception as exc:
            log.warning(
                "cannot check stored positions", extra={**self._log, "error": str(classify(exc))}
            )
            return
        behind = sorted(f"{tp.partition}" for tp, p in held.items() if stored.get(tp, -1) < p)
        if behind:
            log.warning(
                "stored positions are behind this member's (a commit lost in a PostgreSQL "
                "crash); seeking every partition to its stored position again",
                extra={**self._log, "partitions": behind},
            )
            self._reposition_all()

    def _owned_part(self, work: DecodedBatch) -> DecodedBatch:
        """The part of a decoded batch still owned (all of it, as it is, in the usual case)."""
        owned = {tp: p for tp, p in self.positions.items() if tp not in self.unpositioned}
        batch = work.batch.owned(owned)
        if batch is work.batch:
            return work
        return decode_batch(batch, self.pipeline.accepts, self.settings.ingest.max_event_bytes)

    def _committed(self, batch: Batch, report: BatchReport) -> None:
        for tp, position in batch.next_positions().items():
            self.positions[tp] = max(self.positions.get(tp) or 0, position)
        self.last_progress = time.monotonic()
        self.telemetry.batch_committed(self.pipeline.name, self.pipeline.topic, report)
        log.info("batch committed", extra={**self._log, **report.as_log()})

    def _mirror_to_kafka(self, batch: Batch) -> None:
        """Hand the batch's partitions' positions to the Kafka mirror (never awaited)."""
        self._mirror.submit({tp: self.positions.get(tp) for tp in batch.parts})

    # -- pausing -----------------------------------------------------------------

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> None:
        """Sleep up to ``seconds``, waking early on stop or when a rebalance abandons."""
        end = time.monotonic() + seconds
        while not stop.is_set() and not self._abandon:
            remaining = end - time.monotonic()
            if remaining <= 0:
                return
            await asyncio.sleep(min(remaining, SLEEP_SLICE_S))

    async def _poll_paused(self, seconds: float, stop: asyncio.Event) -> None:
        """Wait ``seconds`` with every partition paused, still polling so the group
        keeps us."""
        end = time.monotonic() + seconds
        await self._poll_paused_while(lambda: not stop.is_set(), end)

    async def _poll_paused_while(
        self, waiting: Callable[[], bool], deadline: float | None = None
    ) -> None:
        """Poll Kafka with every partition paused while ``waiting()`` (and, given a
        deadline, until it); paused partitions return no records, so nothing is dropped."""
        consumer = self._consumer
        assert consumer is not None
        self._pause_all()
        while waiting():
            wait_s = IDLE_POLL_MS / 1000
            if deadline is not None:
                wait_s = min(wait_s, deadline - time.monotonic())
                if wait_s <= 0:
                    return
            self.loop_heartbeat = time.monotonic()
            await consumer.getmany(timeout_ms=int(wait_s * 1000))

    def _pause_all(self) -> None:
        consumer = self._consumer
        assert consumer is not None
        assignment = consumer.assignment()
        if assignment:
            consumer.pause(*assignment)
        self.telemetry.paused.labels(self.pipeline.name).set(len(assignment))

    def _resume_positioned(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        resumable = [
            KafkaTopicPartition(tp.topic, tp.partition)
            for tp in self.positions
            if tp not in self.unpositioned
        ]
        assignment = consumer.assignment()
        resumable = [ktp for ktp in resumable if ktp in assignment]
        if resumable:
            consumer.resume(*resumable)
        self.telemetry.paused.labels(self.pipeline.name).set(len(assignment) - len(resumable))

    def _reposition_all(self) -> None:
        """Forget fetch positions: every partition is sought again from PostgreSQL."""
        consumer = self._consumer
        for tp in list(self.positions):
            self.unpositioned.add(tp)
        self.positions.clear()
        self._carried.clear()
        if consumer is not None and consumer.assignment():
            consumer.pause(*consumer.assignment())

    def _delay(self, attempt: int) -> float:
        ingest = self.settings.ingest
        return backoff_delay(
            attempt, ingest.retry_initial_backoff_ms / 1000, ingest.retry_max_backoff_ms / 1000
        )

    def _count_retry(self, error: Exception, attempt: int = 1) -> None:
        cause = type(error).__name__
        self.telemetry.retries.labels(self.pipeline.name, cause).inc()
        extra = {**self._log, "cause": cause, "attempt": attempt, "error": str(error)}
        if attempt == self.settings.ingest.retry_budget:
            self.telemetry.retry_budget_exhausted.labels(self.pipeline.name).inc()
            log.error("ALARM retry budget exhausted; still retrying, nothing skipped", extra=extra)
        else:
            log.warning("transient failure; retrying", extra=extra)


def _names(partitions: set[KafkaTopicPartition]) -> list[str]:
    return sorted(f"{tp.topic}[{tp.partition}]" for tp in partitions)
