"""The producer kit's pure parts: time-ordered ids, event building, sequence tracking."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from consumer.cli.publish import Summary
from schemas import EventPublisher, InvalidEvent, JobProgress, UnknownJobSequence
from schemas.building import build_event, time_ordered_uuid


def test_ids_are_version_7_and_sorted_by_time() -> None:
    ids = [time_ordered_uuid() for _ in range(200)]
    assert all(i.version == 7 and i.variant == uuid.RFC_4122 for i in ids)
    millis = [i.int >> 80 for i in ids]
    assert millis == sorted(millis)
    assert abs(millis[-1] - datetime.now(UTC).timestamp() * 1000) < 5_000
    assert len(set(ids)) == len(ids)


def test_events_are_built_and_validated() -> None:
    job = uuid.uuid4()
    event = build_event(
        "utxoiq.backfill.job.progress", {"job_id": job, "current_block": 5, "sequence": 1}
    )
    assert isinstance(event, JobProgress)
    assert event.data.job_id == job and event.time.tzinfo is not None


@pytest.mark.parametrize(
    ("event_type", "data", "field"),
    [
        ("utxoiq.insight.feedback.submitted", {"rating": 9}, "data.insight_id"),
        (
            "utxoiq.backfill.job.created",
            {
                "job_id": uuid.uuid4(),
                "job_type": "blocks",
                "start_block": 10,
                "end_block": 5,
                "created_by": "t",
                "sequence": 0,
            },
            "end_block",
        ),
        ("utxoiq.nope", {}, "type"),
    ],
)
def test_invalid_events_name_the_field(
    event_type: str, data: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidEvent, match=field):
        build_event(event_type, data)


def test_naive_times_are_refused() -> None:
    data = {"service_name": "s", "metric_type": "m", "value": 1.0, "unit": "ms"}
    with pytest.raises(InvalidEvent, match="time"):
        build_event("utxoiq.system.metric.recorded", data, at=datetime(2026, 1, 1))


async def test_jobs_it_does_not_track_are_refused_until_resumed() -> None:
    publisher = EventPublisher("127.0.0.1:1")
    job = uuid.uuid4()
    with pytest.raises(UnknownJobSequence, match="resume_job"):
        await publisher.progress_job(job, 5)
    publisher.resume_job(str(job), 4)
    assert publisher._next_sequence(job) == 5


def test_the_publish_summary_names_refused_lines() -> None:
    summary = Summary()
    summary.sent.update({"b": 2, "a": 1})
    summary.refused.extend([3, 9])
    assert summary.describe(check=False) == "sent: 3 (a: 1, b: 2); refused: 2 (lines 3, 9)"
    many = Summary(refused=list(range(1, 26)))
    assert many.describe(check=True).endswith("20 and 5 more)")
