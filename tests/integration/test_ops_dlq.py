"""Dead-letter tools against the real broker and database: inspect, redrive, discard."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from consumer.coordinates import RecordId, TopicPartition
from consumer.ops.dlq import dead_letter_stats, discard, list_dead_letters
from consumer.ops.dlq_selection import DeadLetterFilter
from consumer.ops.kafka import kafka_tp, partitions_of, reader
from consumer.ops.redrive import redrive, redrive_to_topic
from consumer.settings import Settings
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.running import run_utxoiq, running_service
from tests.support.waiting import wait_until


async def dead_letter(db: asyncpg.Pool, error_class: str, count: int = 1) -> list[RecordId]:
    """Wait for ``count`` pending dead letters of ``error_class``; their ids in log order."""

    async def found() -> list[RecordId]:
        rows = await db.fetch(
            'SELECT topic, partition, "offset" FROM dead_letters'
            " WHERE error_class = $1 AND status = 'pending' ORDER BY 1, 2, 3",
            error_class,
        )
        ids = [RecordId(r["topic"], r["partition"], r["offset"]) for r in rows]
        return ids if len(ids) == count else []

    return await wait_until(found, within=30, what=f"{count} {error_class} dead letter(s)")


async def end_offsets(settings: Settings, topic: str) -> dict[Any, int]:
    partitions = await partitions_of(settings, topic)
    async with reader(settings) as consumer:
        ends: dict[Any, int] = await consumer.end_offsets(
            [kafka_tp(TopicPartition(topic, p)) for p in partitions]
        )
    return ends


async def job_row(db: asyncpg.Pool, job: str) -> asyncpg.Record | None:
    return await db.fetchrow(
        "SELECT status, current_block, sequence FROM backfill_jobs WHERE job_id = $1",
        uuid.UUID(job),
    )


async def dead_status(db: asyncpg.Pool, record: RecordId) -> asyncpg.Record:
    row = await db.fetchrow(
        "SELECT status, attempts, error_class, status_reason, redrive_count FROM dead_letters"
        ' WHERE topic = $1 AND partition = $2 AND "offset" = $3',
        *record,
    )
    assert row is not None
    return row


async def read_new(consumer: AIOKafkaConsumer, wanted: int) -> int:
    """Poll until ``wanted`` records arrived (or, with 0, one poll's worth); the count."""
    seen = 0

    async def poll() -> bool:
        nonlocal seen
        batches = await consumer.getmany(timeout_ms=500)
        seen += sum(len(b) for b in batches.values())
        return seen >= wanted

    if wanted:
        await wait_until(poll, within=30, what=f"{wanted} records for the other group")
    else:
        await poll()
    return seen


async def test_redrive_applies_an_unknown_job_progress_once_the_job_exists(
    settings: Settings, db: asyncpg.Pool, publish: Publish
) -> None:
    """A progress dead-lettered for an unknown job still fails while the job is missing,
    applies once the job's ``created`` arrived, moves no position, publishes nothing that
    a consumer of another group could see, and is skipped when redriven again."""
    topic, job = settings.topics.jobs, str(uuid.uuid4())
    async with running_service(settings, [Stream.JOBS]):
        await publish(topic, [ev.job_progress(job, 5, 1)])
        (record,) = await dead_letter(db, "UnknownJob")
        one = DeadLetterFilter(ids=(record,))
        early = await redrive(settings, one, execute=True)
        assert (early.applied, early.still_failing) == (0, 1)
        assert early.failures[0][1] == "UnknownJob"
        assert tuple((await dead_status(db, record))[:2]) == ("pending", 2)
        await publish(topic, [ev.job_created(job, start=0, end=10)])
        await wait_until(lambda: job_row(db, job), within=30, what="the job row")

    other = AIOKafkaConsumer(
        group_id=f"other-{uuid.uuid4().hex[:8]}",
        bootstrap_servers=settings.kafka.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    other.subscribe([topic])
    await other.start()
    try:
        assert await read_new(other, 2) == 2
        positions = await db.fetch("SELECT * FROM ingest_offsets ORDER BY 1, 2, 3")
        ends = await end_offsets(settings, topic)

        forecast = await redrive(settings, one, execute=False)
        assert (forecast.executed, forecast.applied, forecast.still_failing) == (False, 1, 0)
        assert (await dead_status(db, record))["status"] == "pending"
        assert tuple(await job_row(db, job) or ()) == ("pending", 0, 0)

        report = await redrive(settings, one, execute=True)
        assert (report.applied, report.still_failing, report.skipped) == (1, 0, 0)
        assert tuple(await job_row(db, job) or ()) == ("running", 5, 1)
        assert (await dead_status(db, record))["status"] == "redriven"
        assert await db.fetch("SELECT * FROM ingest_offsets ORDER BY 1, 2, 3") == positions
        assert await end_offsets(settings, topic) == ends
        assert await read_new(other, 0) == 0
    finally:
        await other.stop()

    code, out, err = await run_utxoiq(settings, "dlq", "redrive", str(record), "--execute")
    assert code == 0, err
    assert "applied: 0" in out and "skipped (not pending): 1" in out
    assert tuple(await job_row(db, job) or ()) == ("running", 5, 1)


async def test_dlq_show_prints_a_non_json_value_safely(
    settings: Settings, db: asyncpg.Pool, producer: AIOKafkaProducer
) -> None:
    """`dlq show` prints every header and a value that is not JSON escaped: no raw control
    bytes reach the terminal and console markup is shown literally."""
    topic = settings.topics.jobs
    value = b"\x1b[2J[bold red]not json[/bold red] \xff\xfe\x00 C:\\x41 :smile:"
    headers = [("trace-id", b"abc-1"), ("evil", b"\x1b]0;owned\x07")]
    async with running_service(settings, [Stream.JOBS]):
        await (await producer.send(topic, value, key=b"k\x1b", headers=headers))
        (record,) = await dead_letter(db, "InvalidUtf8")

    code, out, err = await run_utxoiq(settings, "dlq", "show", str(record))
    assert code == 0, err
    assert "\x1b" not in out and "\x00" not in out and "\x07" not in out
    assert f"value (binary, {len(value)} bytes):" in out
    assert "\\x1b[2J[bold red]not json[/bold red] \\xff\\xfe\\x00 C:\\\\x41 :smile:" in out
    assert "trace-id: abc-1" in out and "evil: \\x1b]0;owned\\x07" in out
    assert "key (text): k\\x1b" in out
    assert "stage       decode" in out

    code, out, err = await run_utxoiq(settings, "dlq", "show", str(record), "--from-topic")
    assert code == 0, err
    assert "dead-letter topic record" in out and "dlq.error.stage: decode" in out
    assert f"dlq.original.offset: {record.offset}" in out and "\x1b" not in out


async def test_list_stats_export_and_discard_answer_from_the_table(
    settings: Settings, db: asyncpg.Pool, publish: Publish, tmp_path: Path
) -> None:
    """Dead letters of each stage are listed, counted and exported with their original
    bytes; a discard marks the chosen ones with the reason and leaves the rest pending."""
    topic = settings.topics.jobs
    bad_range = ev.job_created(str(uuid.uuid4()), start=10, end=5)
    async with running_service(settings, [Stream.JOBS]):
        await publish(topic, [b"{not json", bad_range, ev.job_completed(str(uuid.uuid4()), 1)])
        await dead_letter(db, "UnknownJob")
        await dead_letter(db, "ContractViolation")
        await dead_letter(db, "MalformedJson")

    async with db.acquire() as conn:
        validate = await list_dead_letters(conn, DeadLetterFilter(stage="validate"))
        assert [row.value for row in validate] == [ev.to_bytes(bad_range)]
        counts = {
            (r.stage, r.status): r.count for r in await dead_letter_stats(conn, DeadLetterFilter())
        }
        assert counts == {
            ("apply", "pending"): 1,
            ("decode", "pending"): 1,
            ("validate", "pending"): 1,
        }
        forecast = await discard(conn, DeadLetterFilter(stage="decode"), "junk", execute=False)
        assert (forecast.discarded, forecast.executed) == (1, False)
        done = await discard(conn, DeadLetterFilter(stage="decode"), "junk", execute=True)
        assert (done.discarded, done.skipped) == (1, 0)
        again = await discard(conn, DeadLetterFilter(stage="decode"), "junk", execute=True)
        assert (again.discarded, again.skipped) == (0, 1)

    code, out, err = await run_utxoiq(settings, "dlq", "list", "--json", "--status", "discarded")
    assert code == 0, err
    (listed,) = orjson.loads(out)
    assert (listed["stage"], listed["status_reason"]) == ("decode", "junk")
    assert base64.b64decode(listed["value"]) == b"{not json"

    code, out, err = await run_utxoiq(settings, "dlq", "export", "--from-topic", "--topic", topic)
    assert code == 0, err
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert len(lines) == 3 and "exported 3" in err
    assert {base64.b64decode(line["value"]) for line in lines} >= {b"{not json"}
    assert all(any(h[0] == "dlq.error.class" for h in line["headers"]) for line in lines)

    target = tmp_path / "dead.ndjson"
    target.write_text("an earlier export\n")
    code, _, err = await run_utxoiq(
        settings, "dlq", "export", "--stage", "decode", "-o", str(target)
    )
    assert code == 0, err
    (line,) = target.read_text().splitlines()
    assert base64.b64decode(orjson.loads(line)["value"]) == b"{not json"
    assert _names(tmp_path) == ["dead.ndjson"]  # no partial file left beside it


async def test_redrive_to_topic_republishes_and_refuses_past_the_maximum(
    settings: Settings, db: asyncpg.Pool, publish: Publish
) -> None:
    """A redrive to the source topic republishes the original record with its redrive count
    increased; once a record reached the maximum count it is refused, not republished."""
    topic, job = settings.topics.jobs, str(uuid.uuid4())
    progress = ev.job_progress(job, 5, 1)
    async with running_service(settings, [Stream.JOBS]):
        await publish(topic, [progress])
        (first,) = await dead_letter(db, "UnknownJob")
        forecast = await redrive_to_topic(settings, DeadLetterFilter(), execute=False)
        assert (forecast.applied, forecast.executed) == (1, False)
        report = await redrive_to_topic(settings, DeadLetterFilter(), execute=True, max_redrives=1)
        assert (report.applied, report.refused, report.skipped) == (1, 0, 0)
        assert (await dead_status(db, first))["redrive_count"] == 1
        (second,) = await dead_letter(db, "UnknownJob")
        assert second != first

    async with db.acquire() as conn:
        (row,) = await list_dead_letters(conn, DeadLetterFilter(ids=(second,)))
    assert row.value == ev.to_bytes(progress) and row.key == job.encode()
    assert ("dlq.redrive.count", b"1") in row.headers and row.redrive_count == 1
    refused = await redrive_to_topic(settings, DeadLetterFilter(), execute=True, max_redrives=1)
    assert (refused.applied, refused.refused, refused.skipped) == (0, 1, 1)
    assert (await dead_status(db, second))["status"] == "pending"


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())
