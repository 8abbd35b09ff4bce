"""The figures of one benchmark run, and the targets they are held to."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from consumer.bench.stats import median_of, ratio

T = TypeVar("T")

METHODS = {
    "drain": "the real service (utxoiq consume --pipeline P, a child process, fresh group) "
    "empties a pre-published topic; from its 'resuming from stored positions' log line "
    "(just before the first fetch) to its last 'batch committed' line",
    "latency": "a producer paced at a fraction of the drain rate stamps each event's time; "
    "an event is committed at the first 10 ms poll of ingest_offsets past its offset",
    "cpu": "user + system CPU of the consumer process (psutil, sampled every 50 ms, "
    "interpolated at the drain's start and end)",
    "rss": "peak resident set of the consumer process: the kernel's VmHWM, or the largest sample",
    "fetch_only": "an AIOKafkaConsumer with the pipeline's fetch settings (max_poll_records, "
    "read_committed) reading the same topic from the start, no decode, no writes",
    "decode_only": "schemas.struct_codec.StructDecoder.decode (msgspec, then pydantic for what "
    "msgspec does not vouch for) with the pipeline's event types over the published "
    "bytes, in one process; events per CPU second",
    "write_only": "PostgreSQL COPY of one row per event into the real table with its "
    "indexes, batch_max_records rows per transaction (keys made unique per event)",
    "naive": "decode, then one transaction per event (BEGIN, upsert statements, COMMIT) "
    "through one asyncpg connection, no offsets, on a sample",
    "repeats": "each ceiling and the drain are measured --repeat times (the drain each time "
    "by fresh consumer processes in a fresh group, over emptied tables); a figure is the "
    "median of its repetitions; the paced load follows the last drain, in --repeat "
    "windows one after another, and its figures are the window's with the median p99",
}


@dataclass(slots=True)
class Rate:
    """Events handled in some seconds; ``cpu_seconds`` when the CPU time was measured."""

    events: int
    seconds: float
    cpu_seconds: float | None = None

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us_per_event(self) -> float | None:
        if self.cpu_seconds is None or not self.events:
            return None
        return self.cpu_seconds / self.events * 1e6

    def as_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "seconds": round(self.seconds, 4),
            "events_per_second": round(self.per_second, 1),
            "cpu_seconds": None if self.cpu_seconds is None else round(self.cpu_seconds, 3),
            "cpu_us_per_event": _round(self.cpu_us_per_event, 3),
        }


@dataclass(slots=True)
class Drain:
    """The real consumer emptying a pre-published topic."""

    rate: Rate
    batches: int
    method: str = (
        "consumers' own logs: the records of the 'batch committed' lines after the group was "
        "whole (the latest of each member's first 'resuming from stored positions', just "
        "before its first fetch), over the time from then to the last such line"
    )

    @property
    def cpu_seconds_per_million(self) -> float | None:
        """CPU seconds per million events (numerically, microseconds per event)."""
        return self.rate.cpu_us_per_event

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.rate.as_dict(),
            "batches": self.batches,
            "mean_batch_records": round(self.rate.events / self.batches, 1) if self.batches else 0,
            "cpu_seconds_per_million_events": _round(self.cpu_seconds_per_million, 2),
            "method": self.method,
        }


@dataclass(slots=True)
class Latency:
    """Event age at commit under a steady offered load."""

    target_rate: float
    sent: int
    seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    missing: int = 0
    generator_cpu_s: float = math.nan
    """CPU of the benchmark's own process over the paced load: the producer (making
    batches, the client's sends) and the commit watcher's polls."""
    consumer_cpu_s: float = math.nan
    """CPU of the consumer process(es) over the same span."""
    method: str = (
        "event time (set by the paced producer) to the first poll of ingest_offsets that shows "
        "the event's offset committed (polled every 10 ms; an upper bound)"
    )

    @property
    def achieved_rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    @property
    def generator_cpu_us_per_event(self) -> float:
        return self.generator_cpu_s / self.sent * 1e6 if self.sent else math.nan

    @property
    def consumer_cpu_us_per_event(self) -> float:
        return self.consumer_cpu_s / self.sent * 1e6 if self.sent else math.nan

    def as_dict(self) -> dict[str, Any]:
        return {
            "target_rate": round(self.target_rate, 1),
            "achieved_rate": round(self.achieved_rate, 1),
            "events": self.sent,
            "seconds": round(self.seconds, 3),
            "p50_ms": round(self.p50_ms, 1),
            "p99_ms": round(self.p99_ms, 1),
            "max_ms": round(self.max_ms, 1),
            "never_committed": self.missing,
            "generator_cpu_s": round(self.generator_cpu_s, 3),
            "consumer_cpu_s": round(self.consumer_cpu_s, 3),
            "generator_cpu_us_per_event": round(self.generator_cpu_us_per_event, 2),
            "consumer_cpu_us_per_event": round(self.consumer_cpu_us_per_event, 2),
            "method": self.method,
        }


@dataclass(slots=True)
class Ceilings:
    fetch_only: Rate | None = None
    decode_only: Rate | None = None
    write_only: Rate | None = None
    naive: Rate | None = None

    def bound(self) -> float | None:
        """min(fetch-only, write-only), the rate no consumer of this machine can beat."""
        rates = [r.per_second for r in (self.fetch_only, self.write_only) if r is not None]
        return min(rates) if rates else None

    def as_dict(self) -> dict[str, Any]:
        return {
            name: None if value is None else value.as_dict()
            for name, value in (
                ("fetch_only", self.fetch_only),
                ("decode_only", self.decode_only),
                ("write_only", self.write_only),
                ("naive_baseline", self.naive),
            )
        }


@dataclass(slots=True)
class Check:
    """One target: what is measured, the bar, and whether this run cleared it."""

    name: str
    value: float | None
    bar: float
    at_least: bool = True
    unit: str = ""

    @property
    def passed(self) -> bool | None:
        if self.value is None:
            return None
        return self.value >= self.bar if self.at_least else self.value <= self.bar

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": _round(self.value, 3),
            "bar": (">=" if self.at_least else "<=") + f"{self.bar:g}",
            "unit": self.unit,
            "passed": self.passed,
        }


@dataclass(slots=True)
class PipelineResult:
    pipeline: str
    events: int
    drain: Drain | None = None
    latency: Latency | None = None
    peak_rss_bytes: int | None = None
    ceilings: Ceilings = field(default_factory=Ceilings)
    repeats: dict[str, list[float]] = field(default_factory=dict)
    """Events per second of every repetition of a figure, in the order measured; the
    figure itself is their median."""
    notes: list[str] = field(default_factory=list)

    def measured(self, figure: str, runs: list[T], per_second: Callable[[T], float]) -> T:
        """The median of a figure's repetitions; the rates of all are kept in ``repeats``."""
        self.repeats[figure] = [round(per_second(run), 1) for run in runs]
        return median_of(runs, key=per_second)

    @property
    def drain_rate(self) -> float | None:
        return None if self.drain is None else self.drain.rate.per_second

    @property
    def over_bound(self) -> float | None:
        return ratio(self.drain_rate, self.ceilings.bound())

    @property
    def over_naive(self) -> float | None:
        naive = self.ceilings.naive
        return ratio(self.drain_rate, None if naive is None else naive.per_second)

    def checks(self) -> list[Check]:
        """The issue's targets for this pipeline."""
        floor = 100_000.0 if self.pipeline == "metrics" else 60_000.0
        checks = [Check("drain rate", self.drain_rate, floor, unit="events/s")]
        if self.pipeline == "metrics":
            checks.append(Check("drain / min(fetch-only, write-only)", self.over_bound, 0.7))
        checks.append(Check("drain / naive baseline", self.over_naive, 40.0))
        if self.latency is not None:
            checks.append(Check("p99 event age at commit", self.latency.p99_ms, 250.0, False, "ms"))
        rss = None if self.peak_rss_bytes is None else self.peak_rss_bytes / 2**20
        checks.append(Check("peak RSS", rss, 200.0, False, "MiB"))
        return checks

    def as_dict(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "events": self.events,
            "drain": None if self.drain is None else self.drain.as_dict(),
            "latency": None if self.latency is None else self.latency.as_dict(),
            "peak_rss_bytes": self.peak_rss_bytes,
            "ceilings": self.ceilings.as_dict(),
            "repeats": self.repeats,
            "ratios": {
                "drain_over_min_fetch_write": _round(self.over_bound, 3),
                "drain_over_naive": _round(self.over_naive, 2),
            },
            "targets": [c.as_dict() for c in self.checks()],
            "notes": self.notes,
        }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
