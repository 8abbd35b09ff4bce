"""Kafka over SASL/SCRAM: the consumer works with the right credentials, stops on wrong ones."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable

import asyncpg
import pytest

from consumer.settings import KafkaSettings, Settings
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support.events import job_created
from tests.support.running import ConsumerProcess, running_service
from tests.support.services import REPO, Services
from tests.support.waiting import wait_until


@pytest.fixture
def sasl_env(services: Services) -> dict[str, str]:
    """The SASL_PLAINTEXT SCRAM-SHA-512 listener of the local stack, as the service's env."""
    if "UTXOIQ_STACK_SASL_BOOTSTRAP" not in services.extra:
        pytest.fail("the SASL listener is the local stack's (deploy/stack.sh up)", False)
    return {
        "KAFKA_BOOTSTRAP_SERVERS": services.extra["UTXOIQ_STACK_SASL_BOOTSTRAP"],
        "UTXOIQ_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "UTXOIQ_KAFKA_SASL_MECHANISM": services.extra["UTXOIQ_STACK_SASL_MECHANISM"],
        "UTXOIQ_KAFKA_SASL_USERNAME": services.extra["UTXOIQ_STACK_SASL_USERNAME"],
        "UTXOIQ_KAFKA_SASL_PASSWORD": services.extra["UTXOIQ_STACK_SASL_PASSWORD"],
    }


def sasl_kafka(env: dict[str, str]) -> KafkaSettings:
    return KafkaSettings(
        bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        security_protocol=env["UTXOIQ_KAFKA_SECURITY_PROTOCOL"],
        sasl_mechanism=env["UTXOIQ_KAFKA_SASL_MECHANISM"],
        sasl_username=env["UTXOIQ_KAFKA_SASL_USERNAME"],
        sasl_password=env["UTXOIQ_KAFKA_SASL_PASSWORD"],
    )


async def test_consumes_over_scram(
    make_settings: Callable[..., Settings],
    clean_db: asyncpg.Pool,
    publish: Publish,
    sasl_env: dict[str, str],
) -> None:
    """With the right SCRAM credentials the service creates its topics, consumes and applies."""
    base = make_settings()
    settings = Settings(sasl_kafka(sasl_env), base.database, base.topics, base.ingest)
    jobs = [job_created(f"00000000-0000-4000-8000-{i:012d}") for i in range(20)]
    async with running_service(settings, [Stream.JOBS]):
        await publish(settings.topics.jobs, jobs)

        async def applied() -> bool:
            count: int = await clean_db.fetchval("SELECT count(*) FROM backfill_jobs")
            return count == 20

        await wait_until(applied, within=30, what="20 jobs applied over SASL")


async def test_wrong_password_stops_with_one_clear_line(
    make_settings: Callable[..., Settings], sasl_env: dict[str, str]
) -> None:
    """A wrong SCRAM password makes `utxoiq consume` exit non-zero at once with one clear line."""
    env = {
        **ConsumerProcess(make_settings()).env,
        **sasl_env,
        "UTXOIQ_KAFKA_SASL_PASSWORD": "not-the-password",
    }
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer.cli.main",
        "consume",
        "--pipeline",
        "jobs",
        env=env,
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    elapsed = time.monotonic() - started
    text = stderr.decode()
    last = text.strip().splitlines()[-1]
    assert process.returncode != 0
    assert elapsed < 30
    assert last.startswith("utxoiq: error: Kafka authentication failed for user 'utxoiq'")
    assert "UTXOIQ_KAFKA_SASL_PASSWORD" in last
    assert "not-the-password" not in text
    assert "Traceback" not in text
