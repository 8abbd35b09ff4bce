"""Dead-letter selection, rows and redrive headers, without a database."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from consumer.coordinates import RecordId
from consumer.deadletters import REDRIVE_COUNT
from consumer.ops.dlq import DeadLetterRow
from consumer.ops.dlq_selection import DeadLetterFilter, where_clause
from consumer.ops.redrive import chunks, redrive_headers, times_redriven

T0 = datetime(2026, 11, 1, tzinfo=UTC)
T1 = datetime(2026, 11, 2, tzinfo=UTC)


def row(**changes: object) -> DeadLetterRow:
    values: dict[str, object] = {
        "id": RecordId("t.jobs", 1, 42),
        "consumer_group": "g",
        "stage": "apply",
        "error_class": "UnknownJob",
        "error_message": "job was never created",
        "failed_at": T0,
        "status": "pending",
        "attempts": 1,
        "redrive_count": 0,
        "key": b"k",
        "value": b'{"a": 1}',
        "headers": (("trace", b"\x00\xff"),),
        "record_timestamp": T0,
        "event_id": None,
        "event_type": None,
        "dlq_partition": 1,
        "dlq_offset": 7,
        "status_reason": None,
        "updated_at": T1,
    }
    values.update(changes)
    return DeadLetterRow(**values)  # type: ignore[arg-type]


def test_an_empty_filter_selects_everything() -> None:
    assert where_clause(DeadLetterFilter()) == ("", [])


def test_every_filter_becomes_one_numbered_condition() -> None:
    ids = (RecordId("t", 0, 1), RecordId("t", 2, 3))
    selection = DeadLetterFilter(
        topic="t",
        stage="apply",
        error_class="UnknownJob",
        status="pending",
        since=T0,
        until=T1,
        key=b"k",
        ids=ids,
    )
    sql, args = where_clause(selection, first=3)
    assert sql.startswith("WHERE topic = $3 AND stage = $4 AND error_class = $5")
    assert "failed_at >= $7 AND failed_at < $8 AND record_key = $9" in sql
    assert "unnest($10::text[], $11::int[], $12::bigint[])" in sql
    assert args == ["t", "apply", "UnknownJob", "pending", T0, T1, b"k", ["t", "t"], [0, 2], [1, 3]]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"stage": "write"}, "unknown stage"),
        ({"status": "done"}, "unknown status"),
        ({"limit": 0}, "limit"),
        ({"since": T1, "until": T0}, "before"),
    ],
)
def test_bad_filters_are_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DeadLetterFilter(**changes)  # type: ignore[arg-type]


def test_a_row_gives_back_the_original_record() -> None:
    record = row().record()
    assert record.id == RecordId("t.jobs", 1, 42)
    assert (record.key, record.value, record.headers) == (
        b"k",
        b'{"a": 1}',
        (("trace", b"\x00\xff"),),
    )
    assert record.timestamp_ms == int(T0.timestamp() * 1000)
    assert row(record_timestamp=None).record().timestamp_ms == -1


def test_json_rows_carry_bytes_in_base64() -> None:
    data = row().to_json()
    assert base64.b64decode(data["value"]) == b'{"a": 1}'
    assert data["headers"] == [["trace", base64.b64encode(b"\x00\xff").decode()]]
    assert (data["topic"], data["partition"], data["offset"]) == ("t.jobs", 1, 42)
    assert row(key=None).to_json()["key"] is None


def test_redrive_headers_replace_every_dlq_header_with_the_new_count() -> None:
    headers = (("trace", b"1"), ("dlq.error.class", b"X"), (REDRIVE_COUNT, b"2"))
    assert redrive_headers(headers, 3) == [("trace", b"1"), (REDRIVE_COUNT, b"3")]


def test_the_redrive_count_is_the_larger_of_table_and_headers() -> None:
    assert times_redriven(row(redrive_count=1)) == 1
    assert times_redriven(row(headers=((REDRIVE_COUNT, b"2"),))) == 2
    assert times_redriven(row(headers=((REDRIVE_COUNT, b"x"),))) == 0


def test_chunks_keep_order() -> None:
    ids = [RecordId("t", 0, i) for i in range(5)]
    assert [list(c) for c in chunks(ids, 2)] == [ids[:2], ids[2:4], ids[4:]]
