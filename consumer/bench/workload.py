"""Synthetic event streams with realistic sizes and key spreads, as (key, value) bytes.

Each factory is seeded and yields events in an order a real producer could emit them:

- metrics: a few dozen services, each reporting a dozen metric types with their units;
- feedback: users rating insights, the same (insight, user) pair coming back several
  times (the newest wins), a comment on about half of them, flags on some;
- jobs: many backfill jobs running at once, each created, then moved by many progress
  events with increasing ``sequence``, then completed (or, now and then, failed).

Event ids are time-ordered (UUID version 7), as the producer kit makes them. Metric
samples come in two kinds of time (``MetricTimes``): live ones, stamped when they are made,
and a backfill, spread at random over the raw retention with one id in ten random
(UUID version 4), as a producer replaying a month of history would send them.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

import orjson

from schemas.topics import Stream

SOURCE = "/utxoiq/bench"

SERVICES = (
    "api-gateway", "block-indexer", "mempool-watcher", "insight-engine", "fee-estimator",
    "utxo-tracker", "address-clusterer", "alert-dispatcher", "price-feed", "report-builder",
    "chain-reorg-guard", "wallet-labeler",
)  # fmt: skip
REGIONS = ("eu1", "us1", "ap1")
METRIC_TYPES = (
    ("cpu_usage", "percent"), ("memory_rss", "bytes"), ("http_latency_p99", "ms"),
    ("requests", "req/s"), ("errors", "count"), ("queue_depth", "count"),
    ("gc_pause", "ms"), ("db_pool_in_use", "count"), ("kafka_lag", "records"),
    ("disk_used", "bytes"), ("open_connections", "count"), ("event_loop_lag", "ms"),
)  # fmt: skip
JOB_TYPES = ("blocks", "transactions", "utxo-set", "addresses", "fees")
FLAGS = ("inaccurate", "misleading", "outdated", "spam", "offensive", "other")
WORDS = (
    "the", "fee", "spike", "was", "real", "but", "insight", "overstated", "it;", "whales",
    "moved", "coins", "to", "cold", "storage", "again", "alert", "came", "late,", "useful",
    "context", "about", "miner", "outflows,", "chart", "axis", "looks", "wrong,", "great",
    "catch", "on", "dormant", "supply,", "duplicate", "of", "yesterday's", "note.",
)  # fmt: skip

KeyValue = tuple[bytes, bytes]


class EventFactory(Protocol):
    """Makes the next event of a stream, stamped with the given RFC 3339 time."""

    def next(self, at: str) -> KeyValue: ...


def rfc3339(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).isoformat()


def time_ordered_id(rng: random.Random, millis: int | None = None) -> str:
    """A version 7 UUID string: milliseconds first, then random bits."""
    ms = (time.time_ns() // 1_000_000 if millis is None else millis) & (2**48 - 1)
    rand = rng.getrandbits(74)
    value = ms << 80 | 0x7 << 76 | (rand >> 62) << 64 | 0x2 << 62 | (rand & (2**62 - 1))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def envelope(
    rng: random.Random, event_type: str, at: str, data: dict[str, Any], event_id: str = ""
) -> bytes:
    return orjson.dumps(
        {
            "specversion": "1.0",
            "id": event_id or time_ordered_id(rng),
            "source": SOURCE,
            "type": event_type,
            "time": at,
            "datacontenttype": "application/json",
            "data": data,
        }
    )


class MetricTimes(StrEnum):
    """When the generated metric samples were taken."""

    LIVE = "live"
    """Now: each sample is stamped when it is made, its id time-ordered."""
    BACKFILL = "backfill"
    """At random over the raw retention (an hour short of it, so that none expires while
    a run lasts), one id in ``RANDOM_ID_EVERY`` a UUIDv4 and the others UUIDv7 of the
    sample's time."""


def backfill_spread(retention_days: int) -> timedelta:
    """How far back a backfilled (or preloaded) sample may be."""
    return timedelta(days=retention_days, hours=-1)


RANDOM_ID_EVERY = 10
"""One backfilled id in this many is random (UUIDv4)."""


def metric_services(services: int) -> list[str]:
    """The names of the generated metric series' services."""
    return [f"{s}-{r}" for r in REGIONS for s in SERVICES][:services]


class MetricFactory:
    """Samples from ``services`` services times ``types`` metric types, at ``times``."""

    def __init__(
        self,
        rng: random.Random,
        services: int = 36,
        types: int = 12,
        spread: timedelta | None = None,
    ) -> None:
        """``spread``: live samples when None, else backfilled over that span."""
        self.rng = rng
        self.spread = spread
        self.series = [
            (name, metric, unit, rng.uniform(1, 1000))
            for name in metric_services(services)
            for metric, unit in METRIC_TYPES[:types]
        ]

    def next(self, at: str) -> KeyValue:
        name, metric, unit, base = self.rng.choice(self.series)
        value = round(base * (1 + self.rng.gauss(0, 0.1)), 3)
        data = {"service_name": name, "metric_type": metric, "value": value, "unit": unit}
        event_id = ""
        if self.spread is not None:
            at, event_id = self._backfilled(self.spread)
        return name.encode(), envelope(
            self.rng, "utxoiq.system.metric.recorded", at, data, event_id
        )

    def _backfilled(self, spread: timedelta) -> tuple[str, str]:
        """A time within ``spread`` of now and an id for it."""
        moment = datetime.now(UTC) - self.rng.random() * spread
        if self.rng.randrange(RANDOM_ID_EVERY) == 0:
            return rfc3339(moment), str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        return rfc3339(moment), time_ordered_id(self.rng, int(moment.timestamp() * 1000))


class FeedbackFactory:
    """Feedback over ``pairs`` distinct (insight, user) pairs, about eight users per insight."""

    def __init__(self, rng: random.Random, pairs: int = 30_000) -> None:
        self.rng = rng
        self.pairs = max(pairs, 1)
        self.comments = [" ".join(rng.choices(WORDS, k=rng.randint(3, 40))) for _ in range(997)]

    @staticmethod
    def pair(k: int) -> tuple[str, str]:
        return f"ins-{k // 8:07d}", f"usr-{(k * 2654435761) & 0xFFFFFFFF:08x}"

    def _comment(self) -> str | None:
        if self.rng.random() < 0.5:
            return None
        return self.rng.choice(self.comments)

    def _flags(self) -> list[str]:
        if self.rng.random() < 0.85:
            return []
        return self.rng.sample(FLAGS, self.rng.randint(1, 2))

    def next(self, at: str) -> KeyValue:
        insight, user = self.pair(self.rng.randrange(self.pairs))
        data = {
            "insight_id": insight,
            "user_id": user,
            "rating": self.rng.randint(1, 5),
            "comment": self._comment(),
            "flags": self._flags(),
        }
        key = f"{insight}:{user}".encode()
        return key, envelope(self.rng, "utxoiq.insight.feedback.submitted", at, data)


@dataclass(slots=True)
class _Job:
    job_id: str
    start: int
    end: int
    steps: int
    fails: bool
    sequence: int = -1
    block: int = field(init=False)

    def __post_init__(self) -> None:
        self.block = self.start

    @property
    def finished(self) -> bool:
        return self.sequence >= self.steps + 1


class JobFactory:
    """``active`` jobs in flight at once, each with about ``events_per_job`` events."""

    def __init__(self, rng: random.Random, active: int = 200, events_per_job: int = 50) -> None:
        self.rng = rng
        self.events_per_job = max(events_per_job, 3)
        self.jobs = [self._new_job() for _ in range(max(active, 1))]

    def _new_job(self) -> _Job:
        steps = self.rng.randint(self.events_per_job // 2, self.events_per_job * 3 // 2) - 2
        start = self.rng.randrange(0, 800_000)
        end = start + self.rng.randint(max(steps, 1) * 10, max(steps, 1) * 500)
        fails = self.rng.random() < 0.08
        return _Job(time_ordered_id(self.rng), start, end, max(steps, 1), fails)

    def next(self, at: str) -> KeyValue:
        slot = self.rng.randrange(len(self.jobs))
        job = self.jobs[slot]
        job.sequence += 1
        event_type, data = self._event(job)
        if job.finished:
            self.jobs[slot] = self._new_job()
        data["sequence"] = job.sequence
        return job.job_id.encode(), envelope(self.rng, event_type, at, data)

    def _event(self, job: _Job) -> tuple[str, dict[str, Any]]:
        if job.sequence == 0:
            return "utxoiq.backfill.job.created", {
                "job_id": job.job_id,
                "job_type": self.rng.choice(JOB_TYPES),
                "start_block": job.start,
                "end_block": job.end,
                "created_by": f"user-{self.rng.randrange(50):02d}",
            }
        if job.sequence <= job.steps:
            job.block = job.start + (job.end - job.start) * job.sequence // (job.steps + 1)
            return "utxoiq.backfill.job.progress", {
                "job_id": job.job_id,
                "current_block": job.block,
            }
        if job.fails:
            message = f"rpc timeout fetching block {job.block} after 5 attempts"
            return "utxoiq.backfill.job.failed", {"job_id": job.job_id, "error_message": message}
        return "utxoiq.backfill.job.completed", {"job_id": job.job_id}


@dataclass(frozen=True, slots=True)
class Shape:
    """Key spreads of the generated streams."""

    metric_services: int = 36
    metric_types: int = 12
    feedback_events_per_pair: float = 3.0
    jobs_active: int = 200
    job_events: int = 50
    metric_times: MetricTimes = MetricTimes.LIVE
    retention_days: int = 30
    """The raw retention the backfilled samples are spread over."""

    def factory(self, stream: Stream, events: int, seed: int) -> EventFactory:
        """A factory for ``stream``; ``events`` sizes the feedback pair population."""
        rng = random.Random(f"{seed}-{stream.value}")
        if stream is Stream.METRICS:
            backfill = self.metric_times is MetricTimes.BACKFILL
            spread = backfill_spread(self.retention_days) if backfill else None
            return MetricFactory(rng, self.metric_services, self.metric_types, spread)
        if stream is Stream.FEEDBACK:
            return FeedbackFactory(rng, int(events / self.feedback_events_per_pair))
        return JobFactory(rng, self.jobs_active, self.job_events)


def generate(factory: EventFactory, count: int, chunk: int = 10_000) -> Iterator[list[KeyValue]]:
    """``count`` events in chunks, each chunk stamped with the time it was made."""
    made = 0
    while made < count:
        size = min(chunk, count - made)
        at = rfc3339()
        yield [factory.next(at) for _ in range(size)]
        made += size
