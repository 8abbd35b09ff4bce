"""Event factories: dicts and bytes exactly as the wire contract gives them."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

BASE_TIME = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=6)
"""Midnight UTC six days ago: metric samples at the tests' times are within the default
raw retention (30 days) and short of the future horizon (7 days)."""


def envelope(
    event_type: str,
    data: dict[str, Any],
    *,
    at: datetime | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": "/utxoiq/tests",
        "type": event_type,
        "time": (at or datetime.now(UTC)).isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


def job_created(
    job_id: str,
    *,
    start: int = 0,
    end: int = 1000,
    sequence: int = 0,
    at: datetime | None = None,
    job_type: str = "blocks",
) -> dict[str, Any]:
    return envelope(
        "utxoiq.backfill.job.created",
        {
            "job_id": job_id,
            "job_type": job_type,
            "start_block": start,
            "end_block": end,
            "created_by": "tests",
            "sequence": sequence,
        },
        at=at,
    )


def job_progress(
    job_id: str, block: int, sequence: int, *, at: datetime | None = None
) -> dict[str, Any]:
    return envelope(
        "utxoiq.backfill.job.progress",
        {"job_id": job_id, "current_block": block, "sequence": sequence},
        at=at,
    )


def job_completed(job_id: str, sequence: int, *, at: datetime | None = None) -> dict[str, Any]:
    return envelope(
        "utxoiq.backfill.job.completed", {"job_id": job_id, "sequence": sequence}, at=at
    )


def job_failed(
    job_id: str, sequence: int, message: str = "boom", *, at: datetime | None = None
) -> dict[str, Any]:
    return envelope(
        "utxoiq.backfill.job.failed",
        {"job_id": job_id, "error_message": message, "sequence": sequence},
        at=at,
    )


def feedback(
    insight_id: str,
    user_id: str,
    rating: int,
    *,
    at: datetime | None = None,
    comment: str | None = None,
    flags: list[str] | None = None,
) -> dict[str, Any]:
    return envelope(
        "utxoiq.insight.feedback.submitted",
        {
            "insight_id": insight_id,
            "user_id": user_id,
            "rating": rating,
            "comment": comment,
            "flags": flags or [],
        },
        at=at,
    )


def metric(
    service: str, metric_type: str, value: float, *, unit: str = "ms", at: datetime | None = None
) -> dict[str, Any]:
    return envelope(
        "utxoiq.system.metric.recorded",
        {"service_name": service, "metric_type": metric_type, "value": value, "unit": unit},
        at=at,
    )


def key_of(event: dict[str, Any]) -> bytes:
    data = event["data"]
    if event["type"].startswith("utxoiq.backfill."):
        return str(data["job_id"]).encode()
    if event["type"].startswith("utxoiq.insight."):
        return f"{data['insight_id']}:{data['user_id']}".encode()
    service = data["service_name"] if "service_name" in data else data["service"]["name"]
    return str(service).encode()


def to_bytes(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)


def at(seconds: float) -> datetime:
    return BASE_TIME + timedelta(seconds=seconds)
