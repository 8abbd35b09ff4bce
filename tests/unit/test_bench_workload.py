"""The generated workload: valid events with the key spreads the benchmark promises."""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from consumer.bench.latency import TIME_PLACEHOLDER, make_events, prepare, stamped
from consumer.bench.workload import MetricTimes, Shape, generate, time_ordered_id
from schemas.codec import decode
from schemas.topics import CONTRACTS, Stream, record_key


def events_of(stream: Stream, count: int) -> list[tuple[bytes, bytes]]:
    factory = Shape().factory(stream, count, seed=1)
    return [kv for chunk in generate(factory, count, chunk=1000) for kv in chunk]


@pytest.mark.parametrize("stream", list(Stream))
def test_every_event_is_valid_and_keyed_by_its_entity(stream: Stream) -> None:
    for key, value in events_of(stream, 3000):
        event = decode(value, CONTRACTS[stream].adapter)
        assert record_key(event).encode() == key


@pytest.mark.parametrize("stream", list(Stream))
def test_sizes_are_realistic(stream: Stream) -> None:
    sizes = [len(value) for _, value in events_of(stream, 2000)]
    assert 250 <= sum(sizes) / len(sizes) <= 600


def test_metrics_come_from_a_few_dozen_services_and_types() -> None:
    data = [orjson.loads(v)["data"] for _, v in events_of(Stream.METRICS, 20_000)]
    assert len({d["service_name"] for d in data}) == 36
    assert len({d["metric_type"] for d in data}) == 12


def test_feedback_pairs_come_back_several_times() -> None:
    keys = Counter(k for k, _ in events_of(Stream.FEEDBACK, 30_000))
    assert 2.5 <= 30_000 / len(keys) <= 4
    assert max(keys.values()) >= 5


def test_jobs_are_created_first_then_move_by_increasing_sequence() -> None:
    by_job: dict[bytes, list[dict[str, object]]] = defaultdict(list)
    for key, value in events_of(Stream.JOBS, 30_000):
        by_job[key].append(orjson.loads(value))
    assert len(by_job) >= 300
    finished = 0
    for events in by_job.values():
        assert events[0]["type"] == "utxoiq.backfill.job.created"
        sequences = [e["data"]["sequence"] for e in events]  # type: ignore[index]
        assert sequences == list(range(len(events)))
        finished += events[-1]["type"] != "utxoiq.backfill.job.progress"
    assert finished >= 100
    assert sum(len(e) for e in by_job.values()) / len(by_job) >= 20


def test_the_same_seed_gives_the_same_shape() -> None:
    first = [orjson.loads(v)["data"] for _, v in events_of(Stream.FEEDBACK, 500)]
    second = [orjson.loads(v)["data"] for _, v in events_of(Stream.FEEDBACK, 500)]
    assert first == second


def test_event_ids_are_version_7_and_ordered_by_time() -> None:
    rng = random.Random(3)
    early, late = time_ordered_id(rng, millis=1_000), time_ordered_id(rng, millis=2_000)
    assert uuid.UUID(early).version == 7
    assert uuid.UUID(early).variant == uuid.RFC_4122
    assert early < late


def test_backfilled_samples_spread_over_the_retention_with_a_tenth_random_ids() -> None:
    """The backfill case of the cost curve: times at random over the raw retention (an
    hour short of it), ids UUIDv7 of the sample's own time, one in ten a UUIDv4."""
    shape = Shape(metric_times=MetricTimes.BACKFILL, retention_days=7)
    factory = shape.factory(Stream.METRICS, 5000, seed=2)
    now = datetime.now(UTC)
    events = [orjson.loads(v) for chunk in generate(factory, 5000) for _, v in chunk]
    times = [datetime.fromisoformat(e["time"]) for e in events]
    assert now - timedelta(days=7) < min(times) < now - timedelta(days=6)
    assert now - timedelta(hours=1) < max(times) <= datetime.now(UTC)
    versions = Counter(uuid.UUID(e["id"]).version for e in events)
    assert set(versions) == {4, 7} and 400 <= versions[4] <= 600
    for event, at in zip(events, times, strict=True):
        if uuid.UUID(event["id"]).version == 7:
            assert int(event["id"].replace("-", "")[:12], 16) == int(at.timestamp() * 1000)
    for _, value in next(generate(shape.factory(Stream.METRICS, 100, seed=2), 100)):
        assert decode(value, CONTRACTS[Stream.METRICS].adapter).time < now


def test_chunks_add_up_to_the_count() -> None:
    factory = Shape().factory(Stream.METRICS, 10, seed=1)
    assert [len(c) for c in generate(factory, 2500, chunk=1000)] == [1000, 1000, 500]


@pytest.mark.parametrize("stream", list(Stream))
def test_paced_events_made_in_advance_carry_the_time_they_are_sent(stream: Stream) -> None:
    """The paced load's events are made before it starts and stamped as they are sent."""
    events = make_events(Shape().factory(stream, 500, seed=3), 500)
    partition_of = {key: number % 4 for number, (key, _) in enumerate(events)}.__getitem__
    sent_at = datetime(2026, 11, 28, 23, 30, tzinfo=UTC)  # no microseconds: still 6 digits
    by_partition = stamped(prepare(events, partition_of), sent_at)
    assert sorted(v for values in by_partition.values() for v in values) == sorted(
        (key, value.replace(TIME_PLACEHOLDER.encode(), b"2026-11-28T23:30:00.000000+00:00"))
        for key, value in events
    )
    for partition, values in by_partition.items():
        for key, value in values:
            event = decode(value, CONTRACTS[stream].adapter)
            assert event.time == sent_at
            assert record_key(event).encode() == key
            assert partition_of(key) == partition
