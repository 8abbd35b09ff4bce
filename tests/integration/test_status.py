"""``utxoiq status`` against the real broker and database, beside a running consumer."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

import asyncpg
import orjson

from consumer.pipelines import build_pipelines
from consumer.settings import Settings
from consumer.telemetry import Telemetry
from consumer.topics_admin import ensure_topics
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.running import run_utxoiq, running_service, settings_env
from tests.support.services import REPO
from tests.support.waiting import wait_until


async def status_json(settings: Settings, *args: str) -> dict[str, Any]:
    code, out, err = await run_utxoiq(settings, "status", "--json", *args)
    assert code == 0, err
    loaded: dict[str, Any] = orjson.loads(out)
    return loaded


def pipeline_of(status: dict[str, Any], name: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [p for p in status["pipelines"] if p["pipeline"] == name]
    assert len(found) == 1, name
    return found[0]


def rebalances(telemetry: Telemetry) -> float:
    return sum(
        sample.value
        for family in telemetry.rebalances.collect()
        for sample in family.samples
        if sample.name == "utxoiq_rebalances_total"
    )


async def test_status_shows_both_sides_of_a_running_pipeline(
    settings: Settings, clean_db: asyncpg.Pool, publish: Publish
) -> None:
    """With a consumer running, status shows its group Stable with the one member holding
    every partition, positions in PostgreSQL and Kafka at the log end, no lag, the pending
    dead letters per partition, and the consumer never sees a rebalance."""
    good = [ev.metric("api", "latency", float(i)) for i in range(40)]
    async with running_service(settings, [Stream.METRICS]) as service:
        await publish(settings.topics.metrics, [*good, b"{not json", b"\xff"])
        before = rebalances(service.telemetry)

        async def settled() -> dict[str, Any] | None:
            metrics = pipeline_of(await status_json(settings, "-p", "metrics"), "metrics")
            parts = metrics["partitions"]
            mirrored = all(
                p["kafka_committed_offset"] == p["log_end"] for p in parts if p["log_end"]
            )
            done = metrics["lag"] == 0 and metrics["dead_letters_pending"] == 2
            return metrics if done and mirrored and metrics["state"] == "Stable" else None

        metrics = await wait_until(settled, within=90, interval=0.5, what="status settled")
        assert metrics is not None
        assert metrics["group"] == settings.ingest.group_id(Stream.METRICS)
        assert metrics["topic"] == settings.topics.metrics
        partitions = metrics["partitions"]
        assert [p["partition"] for p in partitions] == list(range(6))
        (member,) = metrics["members"]
        assert member["partitions"] == list(range(6))
        assert sum(p["log_end"] for p in partitions) == 42
        dead = await clean_db.fetch(
            "SELECT partition, count(*) AS n FROM dead_letters WHERE status = 'pending' "
            "GROUP BY partition"
        )
        assert {
            p["partition"]: p["dead_letters_pending"]
            for p in partitions
            if p["dead_letters_pending"]
        } == {r["partition"]: r["n"] for r in dead}
        for p in (p for p in partitions if p["log_end"]):
            assert p["stored_position"] == p["log_end"]
            assert 0 <= p["last_commit_age_seconds"] < 120
        code, out, err = await run_utxoiq(settings, "status", "--pipeline", "metrics")
        assert code == 0, err
        assert "group " + settings.ingest.group_id(Stream.METRICS) + " (Stable)" in out
        assert "partitions 0, 1, 2, 3, 4, 5" in out
        assert "PG position" in out
        assert "Kafka offset" in out
        assert rebalances(service.telemetry) == before
        assert len(service.statuses()[0].positions) == 6


async def test_status_counts_the_backlog_of_a_group_that_never_ran(
    settings: Settings, clean_db: asyncpg.Pool, publish: Publish
) -> None:
    """Without a consumer, status shows the group without members and the whole log as
    lag; a pipeline whose topic does not exist is reported as such, not as an error."""
    await ensure_topics(settings, build_pipelines(settings, [Stream.JOBS]))
    events = [ev.job_created(f"{i:08d}-0000-4000-8000-000000000000") for i in range(5)]
    await publish(settings.topics.jobs, events)
    status = await status_json(settings)
    assert [p["pipeline"] for p in status["pipelines"]] == ["jobs", "feedback", "metrics"]
    jobs = pipeline_of(status, "jobs")
    assert (jobs["state"], jobs["members"], jobs["lag"]) == ("Dead", [], 5)
    assert all(p["stored_position"] is None for p in jobs["partitions"])
    assert all(p["kafka_committed_offset"] is None for p in jobs["partitions"])
    feedback = pipeline_of(status, "feedback")
    assert (feedback["topic_exists"], feedback["partitions"]) == (False, [])
    code, out, err = await run_utxoiq(settings, "status")
    assert code == 0, err
    assert f"topic {settings.topics.feedback} does not exist" in out
    assert "no member" in out


def _ctrl_c_as_at_a_terminal() -> None:
    """SIGINT back to its default in the child, as a terminal's shell leaves it: a suite
    started in the background (``make test &``) runs with SIGINT ignored, which every
    child would inherit, and Python would then install no KeyboardInterrupt handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


async def test_watch_refreshes_until_interrupted(
    settings: Settings, clean_db: asyncpg.Pool
) -> None:
    """--watch takes a new snapshot every interval until Ctrl-C, which ends it calmly."""
    await ensure_topics(settings, build_pipelines(settings, [Stream.JOBS]))
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer.cli.main",
        "status",
        "-p",
        "jobs",
        "--watch",
        "--json",
        "--interval",
        "0.5",
        env={**os.environ, **settings_env(settings)},
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_ctrl_c_as_at_a_terminal,
    )
    assert process.stdout is not None
    try:
        snapshots = [orjson.loads(await asyncio.wait_for(process.stdout.readline(), 60))]
        snapshots.append(orjson.loads(await asyncio.wait_for(process.stdout.readline(), 60)))
    finally:
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    assert b"Traceback" not in err
    assert snapshots[0]["taken_at"] < snapshots[1]["taken_at"]
    assert [p["pipeline"] for p in snapshots[1]["pipelines"]] == ["jobs"]
