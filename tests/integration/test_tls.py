"""TLS to Kafka (SCRAM on the SASL_SSL listener) and to PostgreSQL (verify-full), with the
stack's private CA; a wrong CA or a certificate for another host stops with one line."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable

import asyncpg
import pytest

from consumer.settings import DatabaseSettings, PgSslMode, Settings
from schemas.topics import Stream
from tests.conftest import Publish
from tests.support.events import job_created
from tests.support.running import running_service, settings_env
from tests.support.security import SecureStack, kafka_env, with_kafka
from tests.support.services import REPO, Services
from tests.support.waiting import wait_until

START_WITHIN_S = 30


async def utxoiq_fails(env: dict[str, str], *args: str) -> str:
    """Run ``utxoiq args`` with ``env``; assert a non-zero exit within the bound, no
    traceback; return the last line of stderr."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer.cli.main",
        *args,
        env={**os.environ, **env},
        cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), START_WITHIN_S)
    text = stderr.decode()
    assert process.returncode not in (0, None), text
    assert "Traceback" not in text
    return text.strip().splitlines()[-1]


def localhost_instead_of_ip(address: str) -> str:
    """The same listener by a name the stack's certificate (for 127.0.0.1 only) lacks."""
    host, _, port = address.rpartition(":")
    assert host == "127.0.0.1"
    return f"localhost:{port}"


async def test_consumes_over_scram_on_tls_with_the_ca_verified(
    make_settings: Callable[..., Settings],
    clean_db: asyncpg.Pool,
    publish: Publish,
    secure_stack: SecureStack,
) -> None:
    """On the SASL_SSL listener, verifying the broker against the stack's CA, the service
    consumes and applies every event."""
    settings = with_kafka(make_settings(), secure_stack.kafka(secure_stack.admin))
    jobs = [job_created(f"00000000-0000-4000-8000-{i:012d}") for i in range(20)]
    async with running_service(settings, [Stream.JOBS]):
        await publish(settings.topics.jobs, jobs)

        async def applied() -> bool:
            count: int = await clean_db.fetchval("SELECT count(*) FROM backfill_jobs")
            return count == 20

        await wait_until(applied, within=30, what="20 jobs applied over SASL_SSL")


async def test_a_wrong_ca_stops_the_start_with_one_line(
    make_settings: Callable[..., Settings], secure_stack: SecureStack
) -> None:
    """A CA file that did not sign the broker's certificate: one line naming the CA setting."""
    kafka = secure_stack.kafka(secure_stack.admin, ca_file=secure_stack.other_ca_file)
    env = {**settings_env(make_settings()), **kafka_env(kafka)}
    last = await utxoiq_fails(env, "consume", "--pipeline", "jobs")
    assert last.startswith(f"utxoiq: error: TLS with Kafka at {kafka.bootstrap_servers} failed")
    assert "not signed by a trusted CA" in last
    assert last.endswith("check UTXOIQ_KAFKA_SSL_CAFILE")


async def test_a_certificate_for_another_host_stops_the_start_with_one_line(
    make_settings: Callable[..., Settings], secure_stack: SecureStack
) -> None:
    """The broker's certificate does not name the host dialled: one line saying so."""
    bootstrap = localhost_instead_of_ip(secure_stack.ssl_bootstrap)
    kafka = secure_stack.kafka(secure_stack.admin, bootstrap=bootstrap)
    env = {**settings_env(make_settings()), **kafka_env(kafka)}
    last = await utxoiq_fails(env, "consume", "--pipeline", "jobs")
    assert last.startswith(f"utxoiq: error: TLS with Kafka at {bootstrap} failed")
    assert "not valid for this host name" in last
    assert "'localhost'" in last
    assert last.endswith("check KAFKA_BOOTSTRAP_SERVERS")


def verify_full(services: Services, ca_file: str, host: str = "127.0.0.1") -> DatabaseSettings:
    url = services.database_url.replace("@127.0.0.1:", f"@{host}:")
    return DatabaseSettings(url=url, sslmode=PgSslMode.VERIFY_FULL, ssl_ca_file=ca_file)


def database_env(database: DatabaseSettings) -> dict[str, str]:
    return {
        "DATABASE_URL": database.url.get_secret_value(),
        "UTXOIQ_DB_SSLMODE": str(database.sslmode),
        "UTXOIQ_DB_SSL_CA_FILE": str(database.ssl_ca_file),
    }


@pytest.fixture
def pg_tls(services: Services, secure_stack: SecureStack) -> SecureStack:
    if not services.pg_managed:
        pytest.fail("PostgreSQL with TLS is the local stack's own (deploy/stack.sh up)", False)
    return secure_stack


async def test_the_service_runs_on_postgresql_with_verify_full(
    make_settings: Callable[..., Settings],
    clean_db: asyncpg.Pool,
    publish: Publish,
    services: Services,
    pg_tls: SecureStack,
) -> None:
    """With sslmode=verify-full and the stack's CA, every connection of the service is TLS."""
    base = make_settings()
    settings = Settings(base.kafka, verify_full(services, pg_tls.ca_file), base.topics, base.ingest)
    async with running_service(settings, [Stream.JOBS]) as service:
        await publish(settings.topics.jobs, [job_created("00000000-0000-4000-8000-000000000001")])

        async def applied() -> bool:
            count: int = await clean_db.fetchval("SELECT count(*) FROM backfill_jobs")
            return count == 1

        await wait_until(applied, within=30, what="the job applied over TLS")
        assert service.pool is not None
        async with service.pool.acquire() as conn:
            encrypted = await conn.fetchval(
                "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
            )
    assert encrypted is True


@pytest.mark.parametrize("wrong", ["ca", "host"])
async def test_verify_full_against_a_wrong_ca_or_host_fails_clearly(
    make_settings: Callable[..., Settings], services: Services, pg_tls: SecureStack, wrong: str
) -> None:
    """verify-full with a CA that did not sign the server's certificate, or a host name the
    certificate lacks: one line naming what to check, before anything is consumed."""
    database = (
        verify_full(services, pg_tls.other_ca_file)
        if wrong == "ca"
        else verify_full(services, pg_tls.ca_file, host="localhost")
    )
    env = {**settings_env(make_settings()), **database_env(database)}
    last = await utxoiq_fails(env, "consume", "--pipeline", "jobs")
    assert last.startswith("utxoiq: error: PostgreSQL: TLS failed: ")
    if wrong == "ca":
        assert last.endswith("check UTXOIQ_DB_SSL_CA_FILE")
    else:
        assert last.endswith("check the host in DATABASE_URL")
