"""The local stack's security side: TLS listener, CA files, SCRAM users, ACLs.

``deploy/stack.sh up`` writes these to ``.stack/env`` (``UTXOIQ_STACK_*``); a test that
needs them fails, never skips, when the services come from elsewhere. Loaded as a pytest
plugin by ``tests/conftest.py``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass

import pytest

from consumer.settings import KafkaSettings, SecurityProtocol, Settings
from tests.support.acls import Acl, AclAdmin
from tests.support.services import Services

NEEDED = (
    "UTXOIQ_STACK_SSL_BOOTSTRAP",
    "UTXOIQ_STACK_TLS_CA_FILE",
    "UTXOIQ_STACK_TLS_OTHER_CA_FILE",
    "UTXOIQ_STACK_SASL_MECHANISM",
    "UTXOIQ_STACK_INGEST_USERNAME",
    "UTXOIQ_STACK_OPERATOR_USERNAME",
)


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str

    @property
    def principal(self) -> str:
        return f"User:{self.username}"


@dataclass(frozen=True)
class SecureStack:
    """Addresses and credentials of the stack's SASL_SSL listener."""

    ssl_bootstrap: str
    ca_file: str
    other_ca_file: str
    mechanism: str
    admin: Credentials
    ingest: Credentials
    operator: Credentials

    def kafka(
        self, user: Credentials, *, ca_file: str | None = None, bootstrap: str | None = None
    ) -> KafkaSettings:
        """Settings for SCRAM over TLS as ``user``, verifying the broker with ``ca_file``."""
        return KafkaSettings(
            bootstrap_servers=bootstrap or self.ssl_bootstrap,
            security_protocol=SecurityProtocol.SASL_SSL,
            sasl_mechanism=self.mechanism,
            sasl_username=user.username,
            sasl_password=user.password,
            ssl_cafile=ca_file or self.ca_file,
        )


def kafka_env(kafka: KafkaSettings) -> dict[str, str]:
    """The environment that gives a ``utxoiq`` subprocess these Kafka settings."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "UTXOIQ_KAFKA_SECURITY_PROTOCOL": kafka.security_protocol.value,
    }
    if kafka.sasl_mechanism is not None and kafka.sasl_password is not None:
        env["UTXOIQ_KAFKA_SASL_MECHANISM"] = kafka.sasl_mechanism.value
        env["UTXOIQ_KAFKA_SASL_USERNAME"] = str(kafka.sasl_username)
        env["UTXOIQ_KAFKA_SASL_PASSWORD"] = kafka.sasl_password.get_secret_value()
    if kafka.ssl_cafile is not None:
        env["UTXOIQ_KAFKA_SSL_CAFILE"] = kafka.ssl_cafile
    return env


def with_kafka(settings: Settings, kafka: KafkaSettings) -> Settings:
    return Settings(kafka, settings.database, settings.topics, settings.ingest)


@pytest.fixture(scope="session")
def secure_stack(services: Services) -> SecureStack:
    missing = [name for name in NEEDED if name not in services.extra]
    if missing:
        pytest.fail(
            f"the TLS listener and SCRAM users are the local stack's (deploy/stack.sh up; "
            f"restart it if it predates them): {', '.join(missing)} not in .stack/env",
            False,
        )
    extra = services.extra
    return SecureStack(
        ssl_bootstrap=extra["UTXOIQ_STACK_SSL_BOOTSTRAP"],
        ca_file=extra["UTXOIQ_STACK_TLS_CA_FILE"],
        other_ca_file=extra["UTXOIQ_STACK_TLS_OTHER_CA_FILE"],
        mechanism=extra["UTXOIQ_STACK_SASL_MECHANISM"],
        admin=Credentials(extra["UTXOIQ_STACK_SASL_USERNAME"], extra["UTXOIQ_STACK_SASL_PASSWORD"]),
        ingest=Credentials(
            extra["UTXOIQ_STACK_INGEST_USERNAME"], extra["UTXOIQ_STACK_INGEST_PASSWORD"]
        ),
        operator=Credentials(
            extra["UTXOIQ_STACK_OPERATOR_USERNAME"], extra["UTXOIQ_STACK_OPERATOR_PASSWORD"]
        ),
    )


Grant = Callable[[Credentials, Iterable[Acl]], Awaitable[None]]


@pytest.fixture
async def grant(services: Services) -> AsyncIterator[Grant]:
    """Grant ACLs to a SCRAM user for this test, which starts with none; they are revoked
    when the test ends."""
    given: list[tuple[Credentials, list[Acl]]] = []

    async def give(user: Credentials, acls: Iterable[Acl]) -> None:
        acls = list(acls)
        async with AclAdmin(services.bootstrap_servers) as admin:
            if user not in (u for u, _ in given):
                await admin.revoke_all(user.principal)
            given.append((user, acls))
            await admin.grant(user.principal, acls)

    yield give
    async with AclAdmin(services.bootstrap_servers) as admin:
        for user, acls in given:
            await admin.revoke(user.principal, acls)
