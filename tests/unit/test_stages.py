"""Pure stages: reduce, batching limits, backoff, breaker, dead-letter headers, errors."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import asyncpg
import orjson
import pytest

from consumer.backoff import backoff_delay
from consumer.batching import Batch, BatchLimits
from consumer.breaker import DeadLetterBreaker
from consumer.coordinates import Record, RecordId, TopicPartition, payload_bytes
from consumer.deadletters import dead_letter_headers, decode_headers, encode_headers
from consumer.decoding import decode_records
from consumer.errors import (
    DatabaseContention,
    DatabaseUnavailable,
    DeploymentError,
    Fault,
    UnexplainedFailure,
    classify,
    fault_of,
    is_data_error,
    one_line,
)
from consumer.outcomes import BatchReport, DeadLetter
from consumer.vocabulary import Stage
from consumer.writers.feedback import entity, precedence
from consumer.writers.reduce import reduce_by_key
from consumer.writers.staging import STAGING_TABLES
from schemas import REGISTRY, Stream
from tests.support import events as ev
from tests.unit.helpers import decoded, record


def test_feedback_reduce_keeps_the_newest_and_breaks_ties_by_event_id() -> None:
    older = ev.feedback("i", "u", 1, at=ev.at(0))
    newer = ev.feedback("i", "u", 5, at=ev.at(10))
    tie_a = ev.envelope(
        newer["type"],
        {**newer["data"], "rating": 2},
        at=ev.at(10),
        event_id="00000000-0000-4000-8000-000000000001",
    )
    tie_b = ev.envelope(
        newer["type"],
        {**newer["data"], "rating": 3},
        at=ev.at(10),
        event_id="ffffffff-0000-4000-8000-000000000001",
    )
    winners, losers = reduce_by_key(decoded([newer, older, tie_b, tie_a]), entity, precedence)
    assert [w.event.data.rating for w in winners] == [3]
    assert len(losers) == 3


def test_batch_flushes_on_records_bytes_or_age() -> None:
    r = record(ev.metric("a", "b", 1.0))
    tp, produced = r.id.topic_partition, r.timestamp_ms / 1000
    by_count = Batch(BatchLimits(2, 10**9, 60))
    by_count.extend(tp, [r], now=0)
    assert not by_count.is_full(now=0, wall=produced)
    by_count.extend(tp, [r], now=0)
    assert by_count.is_full(now=0, wall=produced)
    by_bytes = Batch(BatchLimits(100, payload_bytes([r]), 60))
    by_bytes.extend(tp, [r], now=0)
    assert by_bytes.is_full(now=0, wall=produced)
    by_age = Batch(BatchLimits(100, 10**9, 0.5))
    by_age.extend(tp, [r], now=0)
    assert not by_age.is_full(now=0.4, wall=produced)
    assert by_age.is_full(now=0.5, wall=produced)


def test_payload_bytes_count_keys_and_values_and_skip_missing_ones() -> None:
    rid = RecordId("t", 0, 0)
    records = [
        Record(rid, b"key", b"value", (), 0),
        Record(rid, None, b"ab", (), 0),
        Record(rid, b"k", None, (), 0),
    ]
    assert payload_bytes(records) == 3 + 5 + 2 + 1
    assert payload_bytes(iter(records)) == 11
    assert payload_bytes([]) == 0


def test_records_that_already_waited_are_not_held_for_the_batch_age() -> None:
    """Age runs from the oldest record's Kafka timestamp when that is earlier."""
    r = record(ev.metric("a", "b", 1.0))
    batch = Batch(BatchLimits(100, 10**9, 0.5))
    batch.extend(r.id.topic_partition, [r], now=0)
    produced = r.timestamp_ms / 1000
    assert not batch.is_full(now=0, wall=produced + 0.4)
    assert batch.is_full(now=0, wall=produced + 0.5)
    assert not batch.is_full(now=0, wall=produced - 30)  # a producer clock ahead: started


def test_queueing_is_measured_from_the_oldest_records_kafka_timestamp() -> None:
    """The ``queued_ms`` of a batch's log line: how long its oldest record has waited."""
    newer, older = record(ev.metric("a", "b", 1.0)), record(ev.metric("a", "b", 2.0))
    older = older._replace(timestamp_ms=newer.timestamp_ms - 250)
    batch = Batch(BatchLimits(100, 10**9, 1))
    assert batch.since_produced(wall=newer.timestamp_ms / 1000) is None
    batch.extend(newer.id.topic_partition, [newer], now=0)
    batch.extend(older.id.topic_partition._replace(partition=1), [older], now=0)
    assert batch.since_produced(wall=newer.timestamp_ms / 1000 + 0.1) == pytest.approx(0.35)


def test_next_positions_are_one_past_the_last_offset_per_partition() -> None:
    batch = Batch(BatchLimits(10, 10**9, 1))
    for offset, partition in [(5, 0), (6, 0), (9, 1)]:
        batch.extend(TopicPartition("t", partition), [record(b"x", offset, partition)])
    assert batch.next_positions() == {TopicPartition("t", 0): 7, TopicPartition("t", 1): 10}


def test_backoff_grows_to_a_cap_with_jitter() -> None:
    rng = random.Random(1)
    delays = [backoff_delay(n, 0.1, 2.0, rng) for n in range(1, 12)]
    assert 0.05 <= delays[0] <= 0.1
    assert all(1.0 <= d <= 2.0 for d in delays[6:])
    assert len({round(d, 6) for d in delays[6:]}) > 1
    with pytest.raises(ValueError, match="attempt"):
        backoff_delay(0, 0.1, 1.0)


def test_breaker_trips_only_when_most_of_a_full_window_is_dead() -> None:
    breaker = DeadLetterBreaker(window=10, threshold=0.5, cooldown_s=30, max_cooldown_s=480)
    assert not breaker.would_trip(9, 9)  # window not full yet
    breaker.record(10, 0)
    assert not breaker.would_trip(5, 5)  # exactly half is not "most"
    assert breaker.would_trip(6, 6)
    breaker.record(5, 5)
    assert breaker.share == 0.5
    assert breaker.would_trip(1, 1)
    assert not breaker.would_trip(1, 0)
    assert breaker.would_trip(100, 60)  # a batch larger than the window: its own share
    assert not breaker.would_trip(100, 50)


def test_breaker_counts_match_a_record_by_record_window() -> None:
    rng = random.Random(3)
    breaker = DeadLetterBreaker(window=50, threshold=0.5, cooldown_s=30, max_cooldown_s=480)
    flags: list[bool] = []
    for _ in range(200):
        total = rng.randint(1, 50)
        dead = rng.randint(0, total)
        breaker.record(total, dead)
        flags.extend([False] * (total - dead) + [True] * dead)
        recent = flags[-50:]
        assert breaker.share == sum(recent) / len(recent)


def test_one_percent_poison_never_trips_the_default_breaker() -> None:
    breaker = DeadLetterBreaker(window=1000, threshold=0.5, cooldown_s=30, max_cooldown_s=480)
    for _ in range(40):
        assert not breaker.would_trip(500, 5)
        breaker.record(500, 5)


def test_dead_letter_headers_keep_originals_and_add_the_contract_names() -> None:
    original = record(
        b"\xff not json",
        offset=42,
        partition=3,
        topic="src",
        headers=(("trace", b"abc"), ("dlq.redrive.count", b"2"), ("dlq.error.stage", b"old")),
    )
    dead = DeadLetter(original, Stage.DECODE, "MalformedJson", "bad\nbytes")
    failed_at = datetime(2026, 11, 1, tzinfo=UTC)
    headers = dict(dead_letter_headers(dead, "grp", failed_at))
    assert headers["trace"] == b"abc"
    assert headers["dlq.original.topic"] == b"src"
    assert headers["dlq.original.partition"] == b"3"
    assert headers["dlq.original.offset"] == b"42"
    assert headers["dlq.original.timestamp"] == b"1700000000000"
    assert headers["dlq.error.stage"] == b"decode"
    assert headers["dlq.error.class"] == b"MalformedJson"
    assert headers["dlq.error.message"] == b"bad bytes"
    assert headers["dlq.consumer.group"] == b"grp"
    assert headers["dlq.failed.at"] == b"2026-11-01T00:00:00.000Z"
    assert headers["dlq.redrive.count"] == b"2"
    names = [n for n, _ in dead_letter_headers(dead, "grp", failed_at)]
    assert names.count("dlq.error.stage") == 1


def test_headers_survive_the_json_column_byte_for_byte() -> None:
    headers = (("a", b"\x00\xff"), ("b", b""))
    assert decode_headers(encode_headers(headers)) == headers


def test_decode_stage_splits_good_records_from_dead_letters() -> None:
    records = [
        record(ev.metric("a", "b", 1.0), 0),
        record(b"{", 1),
        record(ev.feedback("i", "u", 3), 2),
    ]
    good, dead = decode_records(records, REGISTRY.accepts(Stream.METRICS), 10_000)
    assert [g.record.offset for g in good] == [0]
    assert [(d.record.id.offset, d.stage) for d in dead] == [(1, "decode"), (2, "validate")]


def test_driver_errors_map_onto_the_tree() -> None:
    deadlock = asyncpg.DeadlockDetectedError("deadlock")
    assert isinstance(classify(deadlock), DatabaseContention)
    assert classify(deadlock).retriable
    assert isinstance(classify(ConnectionRefusedError()), DatabaseUnavailable)
    assert isinstance(classify(asyncpg.CannotConnectNowError("starting")), DatabaseUnavailable)
    assert is_data_error(asyncpg.CheckViolationError("check"))
    assert is_data_error(asyncpg.CharacterNotInRepertoireError("nul"))
    assert not is_data_error(deadlock)


def test_errors_of_the_server_or_deployment_are_never_a_records_fault() -> None:
    denied = asyncpg.InsufficientPrivilegeError("permission denied for table system_metrics")
    for error in (
        denied,
        asyncpg.UndefinedTableError("no table"),
        asyncpg.InvalidAuthorizationSpecificationError("no"),
        asyncpg.InternalServerError("xx"),
        asyncpg.DiskFullError("disk full"),
        asyncpg.QueryCanceledError("statement timeout"),
        ConnectionResetError(),
    ):
        assert fault_of(error) is Fault.SURROUNDINGS, error
    assert isinstance(classify(denied), DeploymentError)
    assert not classify(denied).retriable
    assert isinstance(classify(asyncpg.DiskFullError("disk full")), DatabaseUnavailable)
    assert isinstance(classify(asyncpg.QueryCanceledError("timeout")), DatabaseUnavailable)


def test_an_unknown_error_is_isolated_and_never_retried_as_transient() -> None:
    overflow = OverflowError("date value out of range")
    assert fault_of(overflow) is Fault.UNKNOWN
    assert fault_of(asyncpg.ProgramLimitExceededError("index row too big")) is Fault.UNKNOWN
    assert fault_of(asyncpg.CheckViolationError("check")) is Fault.RECORD
    assert isinstance(classify(overflow), UnexplainedFailure)


def test_messages_are_one_bounded_line() -> None:
    text = one_line("a\n" * 1000, limit=50)
    assert "\n" not in text and len(text) == 50


def test_record_ids_parse_topics_with_colons() -> None:
    assert RecordId.parse("a:b:2:10") == RecordId("a:b", 2, 10)
    with pytest.raises(ValueError, match="invalid literal"):
        RecordId.parse("topic:x:1")


def test_a_batch_log_line_names_dead_letters_by_stage_in_json() -> None:
    report = BatchReport(records=2, bytes=10)
    report.dead_by_stage[Stage.DECODE] += 1
    assert orjson.loads(orjson.dumps(report.as_log()))["dead_lettered"] == {"decode": 1}


def test_staging_tables_are_read_off_the_tables_they_feed() -> None:
    """Each staged column is a column of its table, of the table's type unless the
    writer stages it otherwise (feedback flags travel as one text)."""
    jobs = STAGING_TABLES[Stream.JOBS]
    assert jobs.name == "stage_backfill_jobs"
    assert "status TEXT" in jobs.column_definitions()
    for staged in STAGING_TABLES.values():
        assert set(staged.columns) <= set(staged.target.c.keys())
    assert STAGING_TABLES[Stream.FEEDBACK].type_of("flags") == "text"
    assert STAGING_TABLES[Stream.METRICS].type_of("value") == "DOUBLE PRECISION"
