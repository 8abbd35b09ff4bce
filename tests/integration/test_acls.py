"""Kafka ACLs on the real broker: the consumers' KafkaUser is enough and no more, the
operators' KafkaUser covers their commands, and a missing Write on a dead-letter topic
stops the service with one line, having committed nothing past the record."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from consumer.coordinates import RecordId
from consumer.pipelines import build_pipelines
from consumer.settings import Settings
from consumer.topics_admin import ensure_topics, start_or_close
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support import events as ev
from tests.support.acls import (
    INGEST_USER_MANIFEST,
    OPERATOR_USER_MANIFEST,
    AclAdmin,
    Operation,
    for_test,
    kafka_user_acls,
)
from tests.support.running import ConsumerProcess, run_utxoiq, running_service
from tests.support.security import Credentials, Grant, SecureStack, kafka_env, with_kafka
from tests.support.services import REPO, Services
from tests.support.waiting import wait_until

POISON = b"{not json"


@pytest.fixture
async def settings_with_topics(
    make_settings: Callable[..., Settings], clean_db: asyncpg.Pool
) -> Settings:
    """A test's settings whose source and dead-letter topics exist (made by a super user:
    the KafkaUser may not create topics)."""
    settings = make_settings()
    await ensure_topics(settings, build_pipelines(settings))
    return settings


def one_of_each() -> dict[Stream, list[dict[str, object] | bytes]]:
    return {
        Stream.JOBS: [ev.job_created("00000000-0000-4000-8000-000000000001"), POISON],
        Stream.FEEDBACK: [ev.feedback("insight-1", "user-1", 4), POISON],
        Stream.METRICS: [ev.metric("api", "latency", 1.5), POISON],
    }


async def grant_manifest(
    grant: Grant, services: Services, manifest: Path, user: Credentials, settings: Settings
) -> None:
    """Give ``user`` the ACLs of a KafkaUser manifest for the test's topics and group, and
    check that the broker now holds exactly those for it."""
    name, manifest_acls = kafka_user_acls(manifest)
    assert name == user.username
    acls = for_test(manifest_acls, settings.topics, settings.ingest.group_prefix)
    await grant(user, acls)
    async with AclAdmin(services.bootstrap_servers) as admin:
        assert await admin.granted(user.principal) == set(acls)


async def counts(db: asyncpg.Pool) -> tuple[int, int, int, int]:
    row = await db.fetchrow(
        "SELECT (SELECT count(*) FROM backfill_jobs), (SELECT count(*) FROM insight_feedback),"
        " (SELECT count(*) FROM system_metrics),"
        " (SELECT count(*) FROM dead_letters WHERE dlq_offset IS NOT NULL)"
    )
    assert row is not None
    return row[0], row[1], row[2], row[3]


async def test_every_pipeline_runs_under_exactly_the_kafka_user_acls(
    settings_with_topics: Settings,
    clean_db: asyncpg.Pool,
    publish: Publish,
    services: Services,
    secure_stack: SecureStack,
    grant: Grant,
) -> None:
    """The principal holding exactly deploy/k8s/kafka-user.yaml's ACLs (and nothing else
    on the broker) consumes all three pipelines and publishes their dead letters."""
    settings = settings_with_topics
    await grant_manifest(grant, services, INGEST_USER_MANIFEST, secure_stack.ingest, settings)

    ingest = with_kafka(settings, secure_stack.kafka(secure_stack.ingest))
    async with running_service(ingest):
        for stream, records in one_of_each().items():
            await publish(settings.topics.source(stream), records)

        async def all_applied() -> bool:
            return await counts(clean_db) == (1, 1, 1, 3)

        await wait_until(all_applied, within=60, what="3 events applied, 3 dead letters published")


async def test_without_write_on_a_dead_letter_topic_the_service_stops_naming_it(
    settings_with_topics: Settings,
    clean_db: asyncpg.Pool,
    producer: AIOKafkaProducer,
    secure_stack: SecureStack,
    grant: Grant,
) -> None:
    """Write on the jobs DLQ withheld: `utxoiq consume` exits with one line naming the topic
    and the operation; the stored position stays at or before the poison record and no
    dead letter is recorded."""
    settings = settings_with_topics
    dlq = settings.topics.dead_letter(Stream.JOBS)
    _, manifest_acls = kafka_user_acls(INGEST_USER_MANIFEST)
    acls = for_test(manifest_acls, settings.topics, settings.ingest.group_prefix)
    withheld = [a for a in acls if a.name == dlq and a.operation is Operation.WRITE]
    assert len(withheld) == 1
    await grant(secure_stack.ingest, [a for a in acls if a not in withheld])

    topic = settings.topics.jobs
    good = ev.to_bytes(ev.job_created("00000000-0000-4000-8000-000000000002"))
    placed = [await (await producer.send(topic, v, partition=0)) for v in (good, POISON, good)]
    poison_offset = placed[1].offset

    kafka = secure_stack.kafka(secure_stack.ingest)
    consumer = ConsumerProcess(with_kafka(settings, kafka), "--pipeline", "jobs")
    consumer.env.update(kafka_env(kafka))
    code, last = await exit_and_last_line(consumer)
    assert code != 0
    assert last.startswith(f"utxoiq: error: Kafka refuses Write on topic {dlq!r}")
    stored = await clean_db.fetchval(
        "SELECT max(next_offset) FROM ingest_offsets WHERE topic = $1 AND partition = 0",
        topic,
    )
    assert stored is None or stored <= poison_offset
    assert await clean_db.fetchval("SELECT count(*) FROM dead_letters") == 0


async def exit_and_last_line(consumer: ConsumerProcess, within: float = 60) -> tuple[int, str]:
    """Run the consumer until it exits by itself; its exit code and last stderr line."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer.cli.main",
        "consume",
        *consumer.args,
        env={**os.environ, **consumer.env},
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), within)
    text = stderr.decode()
    assert "Traceback" not in text, text
    assert process.returncode is not None
    return process.returncode, text.strip().splitlines()[-1]


async def test_operator_commands_run_under_the_operator_kafka_user_acls(
    settings_with_topics: Settings,
    clean_db: asyncpg.Pool,
    publish: Publish,
    services: Services,
    secure_stack: SecureStack,
    grant: Grant,
) -> None:
    """status, replay, dlq show --from-topic, dlq export --from-topic and dlq redrive
    --to-topic succeed for the principal holding exactly deploy/k8s/kafka-user-operator.yaml's
    ACLs."""
    settings = settings_with_topics
    async with running_service(settings, [Stream.JOBS]):
        await publish(settings.topics.jobs, [POISON])

        async def dead_letter() -> RecordId | None:
            row = await clean_db.fetchrow('SELECT topic, partition, "offset" FROM dead_letters')
            return RecordId(row[0], row[1], row[2]) if row else None

        record = await wait_until(dead_letter, within=30, what="the poison dead-lettered")

    await grant_manifest(grant, services, OPERATOR_USER_MANIFEST, secure_stack.operator, settings)

    env = kafka_env(secure_stack.kafka(secure_stack.operator))
    commands = [
        ("status", "--pipeline", "jobs", "--json"),
        ("replay", "--pipeline", "jobs", "--to-earliest", "--execute"),
        ("dlq", "show", str(record), "--from-topic"),
        ("dlq", "export", "--from-topic", "--topic", settings.topics.jobs),
        ("dlq", "redrive", str(record), "--to-topic", "--execute"),
    ]
    for command in commands:
        code, _, err = await run_utxoiq(settings, *command, env=env)
        assert code == 0, f"{' '.join(command)}: {err}"


async def test_the_kafka_user_may_not_create_or_delete_topics(
    settings_with_topics: Settings, services: Services, secure_stack: SecureStack, grant: Grant
) -> None:
    """With the KafkaUser's ACLs the consumers' principal can neither create a topic nor
    delete one of its own: topics are the KafkaTopic resources' business."""
    settings = settings_with_topics
    await grant_manifest(grant, services, INGEST_USER_MANIFEST, secure_stack.ingest, settings)
    extra = f"{settings.topics.jobs}.extra"
    kafka = secure_stack.kafka(secure_stack.ingest)
    ingest_admin = AIOKafkaAdminClient(**kafka.client_options())
    await start_or_close(ingest_admin)
    try:
        assert settings.topics.jobs in await ingest_admin.list_topics()  # connected, Describe
        with contextlib.suppress(KafkaError):
            await ingest_admin.create_topics([NewTopic(extra, 1, 1)])
        with contextlib.suppress(KafkaError):
            await ingest_admin.delete_topics([settings.topics.jobs])
    finally:
        await ingest_admin.close()
    super_admin = AIOKafkaAdminClient(bootstrap_servers=services.bootstrap_servers)
    await start_or_close(super_admin)
    try:
        topics = set(await super_admin.list_topics())
    finally:
        await super_admin.close()
    assert extra not in topics
    assert settings.topics.jobs in topics
