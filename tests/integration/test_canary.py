"""No user text in logs: a canary string in every free-text field, in a data field name,
in keys, in poison records and in values PostgreSQL refuses (whose errors echo the value)
goes through success, poison, retry, redrive, replay and CLI errors, and appears in no
line the service or the operator commands write at the default level, but one: the name of
an unknown field of a valid event, never its value, is logged once at info (escaped and
cut short, schema-evolution.md), so an operator sees a producer running ahead."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from consumer.pipelines import build_pipelines
from consumer.settings import Settings
from consumer.topics_admin import ensure_topics
from schemas.topics import Stream
from tests.support import events as ev
from tests.support.drain import wait_drained
from tests.support.running import ConsumerProcess, run_utxoiq
from tests.support.waiting import wait_until

CANARY = f"canary{uuid.uuid4().hex[:12]}"
JOB = str(uuid.uuid4())
STATEMENT_TIMEOUT_MS = "300"
UNKNOWN_FIELD = f"{CANARY}_note"
REFUSED = "refused:"
"""Comments starting so break a check constraint the test adds: PostgreSQL refuses the row,
and its error's detail echoes the row's values."""


def with_data(event: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**event, "data": {**event["data"], **fields}}


def records() -> dict[Stream, list[tuple[bytes, bytes]]]:
    """(key, value) per stream: applied events, then poison of every stage."""
    created = with_data(ev.job_created(JOB, job_type=CANARY), created_by=CANARY)
    failed = ev.job_failed(JOB, 1, message=CANARY)
    jobs = [
        created,
        failed,
        ev.job_created(str(uuid.uuid4()), job_type=f"{CANARY}\x00"),  # PostgreSQL refuses it
        with_data(ev.job_created(str(uuid.uuid4())), start_block=CANARY),  # invalid
    ]
    feedback = [
        ev.feedback(f"insight-{CANARY}", f"user-{CANARY}", 4, comment=CANARY),
        with_data(ev.feedback("insight", "user-2", 1), **{UNKNOWN_FIELD: CANARY}),
        ev.feedback("insight", "user-3", 5, comment=f"{REFUSED}{CANARY}"),
        ev.feedback(f"{CANARY}\x00", "user", 2),
        with_data(ev.feedback("insight", "user", 3), rating=CANARY),
    ]
    metrics = [
        ev.metric(CANARY, CANARY, 1.5, unit=CANARY),
        ev.metric(CANARY, f"{CANARY}\x00", 2.5),
    ]
    undecodable = (CANARY.encode(), f'{{"{CANARY}": '.encode())
    return {
        Stream.JOBS: [(ev.key_of(e), ev.to_bytes(e)) for e in jobs] + [undecodable],
        Stream.FEEDBACK: [(ev.key_of(e), ev.to_bytes(e)) for e in feedback] + [undecodable],
        Stream.METRICS: [(ev.key_of(e), ev.to_bytes(e)) for e in metrics] + [undecodable],
    }


async def send(producer: AIOKafkaProducer, topic: str, pairs: list[tuple[bytes, bytes]]) -> None:
    for key, value in pairs:
        await (await producer.send(topic, value, key=key))


async def applied(db: asyncpg.Pool) -> tuple[int, int, int]:
    """The canary's job (failed), feedback and metric rows stored."""
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM backfill_jobs WHERE status = 'failed' AND job_type = $1),"
        " (SELECT count(*) FROM insight_feedback WHERE comment = $1),"
        " (SELECT count(*) FROM system_metrics WHERE service_name = $1)",
        CANARY,
    )
    assert row is not None
    return row[0], row[1], row[2]


def consumer(settings: Settings, log: Path) -> ConsumerProcess:
    process = ConsumerProcess(settings, log_path=log)
    process.env["UTXOIQ_DB_STATEMENT_TIMEOUT_MS"] = STATEMENT_TIMEOUT_MS
    return process


async def test_user_text_appears_in_no_log_line_on_any_path(
    make_settings: Callable[..., Settings],
    clean_db: asyncpg.Pool,
    producer: AIOKafkaProducer,
    tmp_path: Path,
) -> None:
    """The canary is in the database and the dead letters, never in what is written out."""
    settings = make_settings(log_format="json", log_level="INFO")
    await ensure_topics(settings, build_pipelines(settings))
    await clean_db.execute(
        "ALTER TABLE insight_feedback ADD CONSTRAINT canary_refused"
        f" CHECK (comment NOT LIKE '{REFUSED}%')"
    )
    try:
        await run_every_path(settings, clean_db, producer, tmp_path)
    finally:
        await clean_db.execute("ALTER TABLE insight_feedback DROP CONSTRAINT canary_refused")


def is_unknown_field_line(line: str) -> bool:
    """The one line the canary may appear in: the unknown field's name, logged once."""
    entry = orjson.loads(line)
    return bool(
        entry.get("logger") == "consumer.unknown_fields"
        and entry.get("field") == f"data.{UNKNOWN_FIELD}"
    )


async def run_every_path(
    settings: Settings, clean_db: asyncpg.Pool, producer: AIOKafkaProducer, tmp_path: Path
) -> None:
    outputs: dict[str, str] = {}
    data = records()

    # Success and poison of every stage.
    first = consumer(settings, tmp_path / "consume-1.log").start()
    try:
        await send(producer, settings.topics.jobs, data[Stream.JOBS])
        await send(producer, settings.topics.metrics, data[Stream.METRICS])
        await wait_drained(clean_db, settings, [Stream.JOBS, Stream.METRICS])

        # Retry: the feedback table locked past the statement timeout, then released.
        async with clean_db.acquire() as conn:
            locking = conn.transaction()
            await locking.start()
            await conn.execute("LOCK TABLE insight_feedback IN ACCESS EXCLUSIVE MODE")
            await send(producer, settings.topics.feedback, data[Stream.FEEDBACK])

            async def retried() -> bool:
                return "transient failure; retrying" in (tmp_path / "consume-1.log").read_text()

            await wait_until(retried, within=60, what="a retry while the table is locked")
            await locking.rollback()
        await wait_drained(clean_db, settings, [Stream.FEEDBACK])
        assert await applied(clean_db) == (1, 1, 1)
        assert await clean_db.fetchval("SELECT count(*) FROM dead_letters") >= 7
    finally:
        assert first.terminate() == 0

    # Redrive (the poison fails again) and replay of everything, consumed a second time.
    for name, command in {
        "redrive": ("dlq", "redrive", "--execute"),
        "redrive-to-topic": ("dlq", "redrive", "--to-topic", "--execute"),
        "replay": ("replay", "--pipeline", "feedback", "--to-earliest", "--execute"),
    }.items():
        code, out, err = await run_utxoiq(settings, *command)
        assert code == 0, err
        outputs[name] = out + err
    second = consumer(settings, tmp_path / "consume-2.log").start()
    try:
        await wait_drained(clean_db, settings)
    finally:
        assert second.terminate() == 0

    # CLI errors: a file of events refused line by line.
    bad_events = tmp_path / "events.ndjson"
    lines = [orjson.dumps(with_data(ev.metric(CANARY, "cpu", 1.0), value=CANARY))]
    bad_events.write_bytes(b"\n".join([*lines, f'{{"{CANARY}"'.encode()]) + b"\n")
    code, out, err = await run_utxoiq(settings, "publish", "--check", str(bad_events))
    assert code != 0
    outputs["publish"] = out + err

    for log in ("consume-1.log", "consume-2.log"):
        outputs[log] = (tmp_path / log).read_text()
    assert outputs["consume-1.log"].count('"batch committed"') > 0
    named = [line for line in outputs["consume-1.log"].splitlines() if CANARY in line]
    assert any(is_unknown_field_line(line) for line in named)
    leaks = {
        name: [
            line
            for line in text.splitlines()
            if CANARY in line and not (name.startswith("consume") and is_unknown_field_line(line))
        ]
        for name, text in outputs.items()
    }
    assert not any(leaks.values()), f"the canary appears in: {leaks}"
