"""Turning a failure to reach Kafka or PostgreSQL into one line naming what to check.

aiokafka reports any bootstrap failure as ``KafkaConnectionError("Unable to bootstrap")``
and only logs the cause (refused connection, TLS failure, wrong SASL credentials), so
``kafka_cause`` opens one connection per bootstrap server to find it again.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator

from aiokafka import errors as kafka_errors
from aiokafka.conn import create_conn

from consumer.errors import one_line
from consumer.settings import KafkaSettings

PROBE_TIMEOUT_S = 15.0

_SQLSTATE_HINTS = {
    "28P01": "password authentication failed: check DATABASE_URL",
    "28000": "the server refused this user or host: check DATABASE_URL and pg_hba.conf",
    "3D000": "the database does not exist: check DATABASE_URL",
    "42501": "permission denied: check the role in DATABASE_URL (deploy/postgres-roles.sql)",
}


async def kafka_cause(kafka: KafkaSettings) -> BaseException | None:
    """The error of connecting to the first failing bootstrap server; None if all connect."""
    options = kafka.client_options()
    cause: BaseException | None = None
    for server in kafka.bootstrap_servers.split(","):
        host, _, port = server.rpartition(":")
        try:
            async with asyncio.timeout(PROBE_TIMEOUT_S):
                conn = await create_conn(
                    host,
                    int(port),
                    client_id=options["client_id"],
                    request_timeout_ms=options["request_timeout_ms"],
                    ssl_context=options.get("ssl_context"),
                    security_protocol=options["security_protocol"],
                    sasl_mechanism=options.get("sasl_mechanism"),
                    sasl_plain_username=options.get("sasl_plain_username"),
                    sasl_plain_password=options.get("sasl_plain_password"),
                )
        except (OSError, TimeoutError, kafka_errors.KafkaError) as exc:
            cause = cause or exc
            continue
        conn.close()
    return cause


HOSTNAME_MISMATCH = 62
"""OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH: the certificate names other hosts."""


def tls_failure(error: ssl.SSLError, ca_setting: str, host_setting: str) -> str:
    """Why a TLS handshake failed, naming the setting to check."""
    detail = one_line(str(error), 200)
    if getattr(error, "verify_code", None) == HOSTNAME_MISMATCH:
        return (
            f"the server's certificate is not valid for this host name ({detail}): "
            f"check {host_setting}"
        )
    if isinstance(error, ssl.SSLCertVerificationError):
        return (
            f"the server's certificate is not signed by a trusted CA ({detail}): check {ca_setting}"
        )
    return f"{detail}: check {ca_setting}"


def explain_kafka(
    kafka: KafkaSettings, cause: BaseException | None, unreachable_hint: str | None = None
) -> str:
    """What went wrong connecting to Kafka, naming the settings to check (or, for an
    unreachable broker, ``unreachable_hint`` when given)."""
    servers = kafka.bootstrap_servers
    if isinstance(
        cause, kafka_errors.SaslAuthenticationFailed | kafka_errors.AuthenticationFailedError
    ):
        mechanism = kafka.sasl_mechanism.value if kafka.sasl_mechanism else "SASL"
        return (
            f"Kafka authentication failed for user {kafka.sasl_username!r} with {mechanism} "
            f"at {servers}: check UTXOIQ_KAFKA_SASL_USERNAME and UTXOIQ_KAFKA_SASL_PASSWORD"
        )
    if isinstance(
        cause,
        kafka_errors.UnsupportedSaslMechanismError | kafka_errors.AuthenticationMethodNotSupported,
    ):
        return f"Kafka at {servers} refuses this SASL mechanism: check UTXOIQ_KAFKA_SASL_MECHANISM"
    if isinstance(cause, ssl.SSLError):
        why = tls_failure(cause, "UTXOIQ_KAFKA_SSL_CAFILE", "KAFKA_BOOTSTRAP_SERVERS")
        return f"TLS with Kafka at {servers} failed: {why}"
    detail = f" ({one_line(str(cause), 200)})" if cause is not None else ""
    hint = unreachable_hint or "check KAFKA_BOOTSTRAP_SERVERS and UTXOIQ_KAFKA_SECURITY_PROTOCOL"
    return f"cannot reach Kafka at {servers}{detail}: {hint}"


def exception_chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_connection_failure(error: BaseException) -> bool:
    """Refused, reset, unknown host, or several addresses all refused (``OSError`` with
    no file name, as asyncpg raises it for a host that resolves to more than one)."""
    if isinstance(error, ConnectionError | socket.gaierror | TimeoutError):
        return True
    return type(error) is OSError and error.filename is None


def explain_database(
    exc: BaseException, address: str = "", unreachable_hint: str | None = None
) -> str | None:
    """One line for a PostgreSQL connection or permission failure; None if it is not one.
    ``address`` (credentials masked) is named when the server cannot be reached."""
    for error in exception_chain(exc):
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate in _SQLSTATE_HINTS:
            return f"PostgreSQL: {_SQLSTATE_HINTS[sqlstate]} ({one_line(str(error), 200)})"
        if isinstance(error, ssl.SSLError):
            why = tls_failure(error, "UTXOIQ_DB_SSL_CA_FILE", "the host in DATABASE_URL")
            return f"PostgreSQL: TLS failed: {why}"
        if _is_connection_failure(error):
            at = f" at {address}" if address else ""
            hint = unreachable_hint or "check DATABASE_URL"
            return f"cannot reach PostgreSQL{at} ({one_line(str(error), 200)}): {hint}"
    return None
