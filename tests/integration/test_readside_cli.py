"""``utxoiq query`` as a real command over data the engine wrote."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid

import asyncpg

from consumer.settings import Settings
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.running import running_service, settings_env
from tests.support.services import REPO
from tests.support.waiting import wait_until


def _query(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "consumer.cli.main", "query", *args],
        env={"PATH": "/usr/bin:/bin", **settings_env(settings)},
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_query_commands_print_json_tables_and_one_line_errors(
    settings: Settings, publish: Publish, clean_db: asyncpg.Pool
) -> None:
    """Jobs come back as JSON or a table; a missing job or a bad argument is one stderr line."""
    job_ids = [str(uuid.uuid4()) for _ in range(3)]
    async with running_service(settings, [Stream.JOBS]):
        await publish(settings.topics.jobs, [ev.job_created(j, at=ev.at(60)) for j in job_ids])

        async def written() -> bool:
            return bool(await clean_db.fetchval("SELECT count(*) FROM backfill_jobs") == 3)

        await wait_until(written, within=60, what="jobs written")

    listed = _query(settings, "jobs", "--limit", "2", "--json")
    assert listed.returncode == 0, listed.stderr
    page = json.loads(listed.stdout)
    assert len(page["items"]) == 2
    table = _query(settings, "jobs", "--cursor", page["next_cursor"])
    assert table.returncode == 0, table.stderr
    (last,) = set(job_ids) - {item["job_id"] for item in page["items"]}
    assert last in table.stdout
    assert "no more pages" in table.stdout

    missing = _query(settings, "job", str(uuid.uuid4()))
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1
    assert "no backfill job" in missing.stderr

    bad = _query(settings, "metrics", "api", "latency", "--start", "yesterday", "--end", "1h")
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1
    assert "--start: not a time: 'yesterday'" in bad.stderr and "2h" in bad.stderr


async def test_every_time_option_of_query_takes_ages_and_iso_times_as_dlq_does(
    settings: Settings,
) -> None:
    """``--since 2h`` and ``--until`` an ISO time without offset (UTC) are accepted by
    ``query feedback``, and ``--start 2h --end 0s`` by ``query metrics``."""
    feedback = _query(settings, "feedback", "--since", "2h", "--until", "2999-01-01T00:00")
    assert feedback.returncode == 0, feedback.stderr
    metrics = _query(settings, "metrics", "api", "latency", "--start", "2h", "--end", "0s")
    assert metrics.returncode == 0, metrics.stderr
