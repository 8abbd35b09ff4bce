"""An independent model of the tables: the state the contract says the events produce.

It applies events one at a time, in the order each key's partition delivers them, with
the rules of ARCHITECTURE.md written out again from scratch, so the engine's batched
fold and merges are checked against a second, simpler implementation.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg

TERMINAL = {"completed", "failed"}


def _time(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(event["time"]).astimezone(UTC)


@dataclass
class Model:
    jobs: dict[str, dict[str, Any]] = field(default_factory=dict)
    feedback: dict[tuple[str, str], tuple[datetime, str, dict[str, Any]]] = field(
        default_factory=dict
    )
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)
    dead: list[tuple[str, str]] = field(default_factory=list)  # (event id, reason)

    def apply(self, event: dict[str, Any]) -> None:
        kind = event["type"].rsplit(".", 1)[-1]
        if event["type"].startswith("utxoiq.backfill."):
            self._job(kind, event)
        elif event["type"].startswith("utxoiq.insight."):
            key = (event["data"]["insight_id"], event["data"]["user_id"])
            rank = (_time(event), event["id"])
            current = self.feedback.get(key)
            if current is None or rank > current[:2]:
                self.feedback[key] = (*rank, event["data"])
        else:
            self.metrics.setdefault(event["id"], {**event["data"], "time": _time(event)})

    def _job(self, kind: str, event: dict[str, Any]) -> None:
        data = event["data"]
        job = self.jobs.get(data["job_id"])
        if job is None:
            if kind == "created":
                self.jobs[data["job_id"]] = {
                    "status": "pending",
                    "current_block": data["start_block"],
                    "sequence": data["sequence"],
                    "start": data["start_block"],
                    "end": data["end_block"],
                    "error_message": None,
                }
            else:
                self.dead.append((event["id"], "UnknownJob"))
            return
        if kind == "progress" and not job["start"] <= data["current_block"] <= job["end"]:
            self.dead.append((event["id"], "BlockOutOfRange"))
            return
        if data["sequence"] <= job["sequence"]:
            if kind == "progress" and data["sequence"] > job["progress_sequence"]:
                job.update(current_block=data["current_block"], progress_sequence=data["sequence"])
            return
        if job["status"] in TERMINAL:
            self.dead.append((event["id"], "JobAlreadyFinished"))
            return
        job["sequence"] = data["sequence"]
        if kind == "progress":
            job.update(
                status="running",
                current_block=data["current_block"],
                progress_sequence=data["sequence"],
            )
        elif kind == "completed":
            job["status"] = "completed"
        elif kind == "failed":
            job.update(status="failed", error_message=data["error_message"])

    def rollups(
        self, unit: str
    ) -> dict[tuple[str, str, datetime, str], tuple[int, float, float, float]]:
        buckets: dict[tuple[str, str, datetime, str], list[float]] = defaultdict(list)
        for m in self.metrics.values():
            t = m["time"]
            start = t.replace(minute=0, second=0, microsecond=0)
            if unit == "day":
                start = start.replace(hour=0)
            buckets[(m["service_name"], m["metric_type"], start, m["unit"])].append(m["value"])
        return {k: (len(v), sum(v), min(v), max(v)) for k, v in buckets.items()}


async def assert_tables_match(db: asyncpg.Pool, model: Model) -> None:
    """Compare every service table with the model (sums with a float tolerance)."""
    jobs = {
        str(r["job_id"]): r
        for r in await db.fetch(
            "SELECT job_id, status, current_block, sequence, error_message FROM backfill_jobs"
        )
    }
    assert set(jobs) == set(model.jobs), "job ids differ"
    for job_id, want in model.jobs.items():
        got = jobs[job_id]
        assert (got["status"], got["current_block"], got["sequence"], got["error_message"]) == (
            want["status"],
            want["current_block"],
            want["sequence"],
            want["error_message"],
        ), job_id
    rows = await db.fetch(
        "SELECT insight_id, user_id, rating, comment, flags, event_id FROM insight_feedback"
    )
    got_feedback = {(r["insight_id"], r["user_id"]): r for r in rows}
    assert set(got_feedback) == set(model.feedback), "feedback keys differ"
    for key, (_, event_id, data) in model.feedback.items():
        got = got_feedback[key]
        assert (str(got["event_id"]), got["rating"], got["comment"], list(got["flags"])) == (
            event_id,
            data["rating"],
            data["comment"],
            data["flags"],
        ), key
    ids = {str(r["event_id"]) for r in await db.fetch("SELECT event_id FROM system_metrics")}
    assert ids == set(model.metrics), (
        f"metric event ids differ: {len(ids - set(model.metrics))} extra, "
        f"{len(set(model.metrics) - ids)} missing"
    )
    for table, unit in (("system_metrics_hourly", "hour"), ("system_metrics_daily", "day")):
        rows = await db.fetch(
            f"SELECT service_name, metric_type, bucket_start, unit, sample_count, value_sum,"
            f" value_min, value_max FROM {table}"
        )
        got_rollups = {(r[0], r[1], r[2], r[3]): (r[4], r[5], r[6], r[7]) for r in rows}
        wanted = model.rollups(unit)
        assert set(got_rollups) == set(wanted), f"{table} buckets differ"
        for bucket, (count, total, low, high) in wanted.items():
            g = got_rollups[bucket]
            assert (g[0], g[2], g[3]) == (count, low, high), (table, bucket)
            assert abs(float(g[1]) - total) <= 1e-6 * max(1.0, abs(total)), (table, bucket)
