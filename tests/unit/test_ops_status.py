"""The status snapshot's pure parts: group parsing, lag, ages, the JSON shape."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment
from rich.console import Console

from consumer.ops.status import (
    Member,
    PartitionStatus,
    PipelineOverview,
    StatusReport,
    assigned_partitions,
    parse_group,
)
from consumer.ops.status_view import format_age, status_dict, status_view
from schemas.topics import Stream


def assignment(topics: dict[str, list[int]]) -> bytes:
    encoded: bytes = ConsumerProtocolMemberAssignment(0, list(topics.items()), b"").encode()
    return encoded


def partition(number: int, stored: int | None, start: int, end: int) -> PartitionStatus:
    return PartitionStatus(number, stored, stored, start, end, timedelta(seconds=3), 0)


def test_assigned_partitions_keep_only_the_pipeline_topic() -> None:
    encoded = assignment({"t.metrics": [4, 1], "other": [0]})
    assert assigned_partitions(encoded, "t.metrics") == (1, 4)
    assert assigned_partitions(b"", "t.metrics") == ()


def test_parse_group_reads_state_and_members_in_partition_order() -> None:
    members = [
        ("m-2", "utxoiq-ingest", "/10.0.0.2", b"", assignment({"t": [2]})),
        ("m-1", "utxoiq-ingest", "/10.0.0.1", b"", assignment({"t": [0, 1]})),
    ]
    state, parsed = parse_group((0, "g", "Stable", "consumer", "range", members), "t")
    assert state == "Stable"
    assert parsed == (
        Member("utxoiq-ingest", "10.0.0.1", (0, 1)),
        Member("utxoiq-ingest", "10.0.0.2", (2,)),
    )


def test_lag_counts_from_the_stored_position_or_the_log_start() -> None:
    assert partition(0, 90, 0, 100).lag == 10
    assert partition(0, None, 40, 100).lag == 60
    assert partition(0, 10, 40, 100).lag == 60  # retention removed what was stored
    assert partition(0, 100, 0, 100).lag == 0


def test_ages_read_at_a_glance() -> None:
    assert format_age(None) == "-"
    assert format_age(timedelta(seconds=42.7)) == "42s ago"
    assert format_age(timedelta(minutes=3, seconds=5)) == "3m05s ago"
    assert format_age(timedelta(hours=2, minutes=7)) == "2h07m ago"
    assert format_age(timedelta(days=4, hours=3)) == "4d03h ago"


def test_json_and_screen_show_the_same_figures() -> None:
    report = StatusReport(
        datetime(2026, 12, 6, 8, 0, tzinfo=UTC),
        (
            PipelineOverview(
                Stream.JOBS,
                "utxoiq.backfill.job-progress",
                "utxoiq-ingest-jobs",
                "Stable",
                (Member("utxoiq-ingest", "10.0.0.1", (0, 1, 2)),),
                (partition(0, 7, 0, 9), partition(1, 5, 0, 5), partition(2, None, 0, 0)),
            ),
        ),
    )
    data = status_dict(report)
    (jobs,) = data["pipelines"]
    assert (jobs["lag"], jobs["state"], jobs["topic_exists"]) == (2, "Stable", True)
    assert jobs["partitions"][0] == {
        "partition": 0,
        "stored_position": 7,
        "kafka_committed_offset": 7,
        "log_start": 0,
        "log_end": 9,
        "lag": 2,
        "last_commit_age_seconds": 3.0,
        "dead_letters_pending": 0,
    }
    console = Console(width=120, record=True)
    console.print(status_view(report))
    screen = console.export_text()
    assert "group utxoiq-ingest-jobs (Stable), 1 member, lag 2" in screen
    assert "member utxoiq-ingest@10.0.0.1: partitions 0, 1, 2" in screen
