"""Operator arguments: times, partition lists and record ids parse or fail with a reason."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from consumer.coordinates import RecordId
from consumer.ops.arguments import (
    choose_pipelines,
    parse_partitions,
    parse_record_id,
    parse_when,
)
from schemas.topics import Stream

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01T10:00:00Z", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01T10:00:00+02:00", datetime(2026, 11, 1, 8, tzinfo=UTC)),
        ("2026-11-01 10:00", datetime(2026, 11, 1, 10, tzinfo=UTC)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("30s", NOW - timedelta(seconds=30)),
        ("15m", NOW - timedelta(minutes=15)),
        ("2h", NOW - timedelta(hours=2)),
        ("7d", NOW - timedelta(days=7)),
        ("1w", NOW - timedelta(weeks=1)),
    ],
)
def test_times_parse_as_absolute_or_ago(text: str, expected: datetime) -> None:
    assert parse_when(text, NOW) == expected


def test_an_offset_is_kept() -> None:
    parsed = parse_when("2026-11-01T10:00:00+02:00")
    assert parsed.utcoffset() == timezone(timedelta(hours=2)).utcoffset(None)


@pytest.mark.parametrize("text", ["yesterday", "2h ago", "-5m", "2026-13-01", ""])
def test_bad_times_name_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_when(text, NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", [0]), ("2,0", [0, 2]), ("0-3", [0, 1, 2, 3]), ("0,4-5,4", [0, 4, 5])],
)
def test_partition_lists(text: str, expected: list[int]) -> None:
    assert parse_partitions(text) == expected


@pytest.mark.parametrize("text", ["", "a", "1,,2", "3-1", "-1", "1-x"])
def test_bad_partition_lists(text: str) -> None:
    with pytest.raises(ValueError, match="partition"):
        parse_partitions(text)


def test_record_ids_allow_colons_in_the_topic() -> None:
    assert parse_record_id("a:b.topic:2:17") == RecordId("a:b.topic", 2, 17)


@pytest.mark.parametrize("text", ["topic", "topic:1", ":1:2", "t:x:2", "t:1:-2", "t:-1:2"])
def test_bad_record_ids(text: str) -> None:
    with pytest.raises(ValueError, match=r"TOPIC:PARTITION:OFFSET|negative"):
        parse_record_id(text)


def test_pipelines_are_chosen_in_the_given_order() -> None:
    order = (Stream.JOBS, Stream.FEEDBACK, Stream.METRICS)
    assert choose_pipelines(["metrics,jobs", ""], order) == [Stream.JOBS, Stream.METRICS]
    assert choose_pipelines(None, order) == list(order)
    with pytest.raises(ValueError, match="unknown pipeline 'nope' \\(one of jobs, feedback"):
        choose_pipelines(["nope"], order)
