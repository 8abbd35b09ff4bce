"""Finding a real Kafka broker and PostgreSQL server for the integration tests.

In order: addresses from the environment (``KAFKA_BOOTSTRAP_SERVERS`` and
``DATABASE_URL``); else testcontainers when a Docker engine answers; else the project's
own local stack (``deploy/stack.sh up``). A missing service is a failure with a clear
message, never a skip. The tests use the database ``<name>_test`` on that server, never
the one the URL names (``tests.support.test_database``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from consumer.cli.addresses import read_env_file
from tests.support.test_database import ensure_test_database

REPO = Path(__file__).resolve().parents[2]
STACK_ENV = REPO / ".stack" / "env"


@dataclass
class Services:
    bootstrap_servers: str
    database_url: str
    """The suite's own database (``<name>_test``)."""
    origin: str
    extra: dict[str, str] = field(default_factory=dict)
    _containers: list[Any] = field(default_factory=list)

    @property
    def pg_managed(self) -> bool:
        """True when PostgreSQL is the local stack's own (tests may stop and start it)."""
        return self.extra.get("UTXOIQ_STACK_PG_MANAGED") == "1"

    def close(self) -> None:
        for container in reversed(self._containers):
            container.stop()


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _from_containers() -> Services:
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    kafka = KafkaContainer("apache/kafka:4.1.0").with_kraft()
    kafka.start()
    postgres = PostgresContainer("postgres:16-alpine", driver=None)
    postgres.start()
    url = postgres.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
    return Services(kafka.get_bootstrap_server(), url, "testcontainers", {}, [kafka, postgres])


def _from_local_stack() -> Services:
    script = REPO / "deploy" / "stack.sh"
    result = subprocess.run(
        ["bash", str(script), "up"], capture_output=True, text=True, timeout=900
    )
    if result.returncode != 0 or not STACK_ENV.exists():
        tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
        raise RuntimeError(
            "the local stack did not come up (deploy/stack.sh up): " + " | ".join(tail)
        )
    values = read_env_file(STACK_ENV)
    return Services(
        values["KAFKA_BOOTSTRAP_SERVERS"], values["DATABASE_URL"], "local stack", values
    )


def find_services() -> Services:
    """The broker, and the server with the suite's own database created on it."""
    found = _find_servers()
    found.database_url = ensure_test_database(found.database_url)
    return found


def _find_servers() -> Services:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database = os.environ.get("DATABASE_URL")
    if bootstrap and database:
        extra = read_env_file(STACK_ENV) if STACK_ENV.exists() else {}
        same_stack = extra.get("KAFKA_BOOTSTRAP_SERVERS") == bootstrap
        return Services(bootstrap, database, "environment", extra if same_stack else {})
    if _docker_answers():
        return _from_containers()
    return _from_local_stack()


def stack(*args: str) -> None:
    """Run a subcommand of the local stack script (for outage tests)."""
    subprocess.run(["bash", str(REPO / "deploy" / "stack.sh"), *args], check=True, timeout=300)
