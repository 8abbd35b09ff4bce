"""Settings of the Kafka cluster: addresses, security (SASL, TLS) and client tuning,
read from the environment (``KAFKA_BOOTSTRAP_SERVERS``, ``UTXOIQ_KAFKA_*``).
"""

from __future__ import annotations

import ssl
from enum import StrEnum
from functools import cached_property
from typing import Any

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from consumer.connection_settings import COMMON_CONFIG, existing_file


class SecurityProtocol(StrEnum):
    """How the service talks to the Kafka brokers."""

    PLAINTEXT = "PLAINTEXT"
    """No encryption, no authentication (local development only)."""
    SSL = "SSL"
    """TLS, optionally with a client certificate."""
    SASL_PLAINTEXT = "SASL_PLAINTEXT"
    """SASL authentication without TLS."""
    SASL_SSL = "SASL_SSL"
    """SASL authentication over TLS (the usual production choice)."""


class SaslMechanism(StrEnum):
    """SASL mechanisms supported for Kafka authentication."""

    PLAIN = "PLAIN"
    """Username and password sent as is (only over TLS)."""
    SCRAM_SHA_256 = "SCRAM-SHA-256"
    """Salted challenge-response, SHA-256."""
    SCRAM_SHA_512 = "SCRAM-SHA-512"
    """Salted challenge-response, SHA-512."""


def _is_host_and_port(server: str) -> bool:
    host, _, port = server.rpartition(":")
    return bool(host) and port.isdigit() and 1 <= int(port) <= 65535


class KafkaSettings(BaseSettings):
    """The Kafka cluster: addresses, security and client tuning."""

    model_config = SettingsConfigDict(env_prefix="UTXOIQ_KAFKA_", **COMMON_CONFIG)  # type: ignore[typeddict-item]

    bootstrap_servers: str = Field(
        default="127.0.0.1:9092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "UTXOIQ_KAFKA_BOOTSTRAP_SERVERS"),
    )
    security_protocol: SecurityProtocol = SecurityProtocol.PLAINTEXT
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    ssl_key_password: SecretStr | None = None
    client_id: str = "utxoiq-ingest"
    request_timeout_ms: int = Field(default=30_000, ge=1_000)

    @field_validator("bootstrap_servers")
    @classmethod
    def _servers_given(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers or not all(map(_is_host_and_port, servers)):
            raise ValueError("expected host:port[,host:port...], each port from 1 to 65535")
        return ",".join(servers)

    @field_validator("ssl_cafile", "ssl_certfile", "ssl_keyfile")
    @classmethod
    def _file_exists(cls, value: str | None) -> str | None:
        return existing_file(value)

    @model_validator(mode="after")
    def _sasl_is_complete(self) -> KafkaSettings:
        sasl = self.security_protocol.value.startswith("SASL")
        if sasl and not (self.sasl_mechanism and self.sasl_username and self.sasl_password):
            raise ValueError(
                "SASL needs UTXOIQ_KAFKA_SASL_MECHANISM, UTXOIQ_KAFKA_SASL_USERNAME "
                "and UTXOIQ_KAFKA_SASL_PASSWORD"
            )
        given = self.sasl_mechanism or self.sasl_username or self.sasl_password
        if given and not sasl:
            raise ValueError(
                "UTXOIQ_KAFKA_SASL_* is set but UTXOIQ_KAFKA_SECURITY_PROTOCOL is "
                f"{self.security_protocol.value}: use SASL_SSL or SASL_PLAINTEXT"
            )
        return self

    @model_validator(mode="after")
    def _tls_files_load(self) -> KafkaSettings:
        """A CA, certificate or key the TLS library cannot load is this setting's fault,
        said at start, not a failure to reach the broker later."""
        if self.uses_tls:
            try:
                _ = self.ssl_context  # built once here, shared by every client
            except ssl.SSLError as exc:
                raise ValueError(_tls_fault(self.ssl_cafile, exc)) from None
        return self

    @model_validator(mode="after")
    def _tls_files_need_tls(self) -> KafkaSettings:
        if not self.uses_tls and (self.ssl_cafile or self.ssl_certfile or self.ssl_keyfile):
            raise ValueError(
                "UTXOIQ_KAFKA_SSL_* is set but UTXOIQ_KAFKA_SECURITY_PROTOCOL is "
                f"{self.security_protocol.value}: use SSL or SASL_SSL"
            )
        if self.ssl_keyfile and not self.ssl_certfile:
            raise ValueError("UTXOIQ_KAFKA_SSL_KEYFILE needs UTXOIQ_KAFKA_SSL_CERTFILE")
        return self

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments shared by every aiokafka client of this service."""
        options: dict[str, Any] = {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol.value,
            "client_id": self.client_id,
            "request_timeout_ms": self.request_timeout_ms,
        }
        if self.sasl_mechanism is not None:
            options["sasl_mechanism"] = self.sasl_mechanism.value
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        if self.uses_tls:
            options["ssl_context"] = self.ssl_context
        return options

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL)

    @cached_property
    def ssl_context(self) -> ssl.SSLContext:
        """The TLS context every client of this service shares, built once (checked at
        start by ``_tls_files_load``)."""
        from aiokafka.helpers import create_ssl_context

        password = self.ssl_key_password.get_secret_value() if self.ssl_key_password else None
        context: ssl.SSLContext = create_ssl_context(
            cafile=self.ssl_cafile,
            certfile=self.ssl_certfile,
            keyfile=self.ssl_keyfile,
            password=password,
        )
        return context


def _tls_fault(cafile: str | None, exc: ssl.SSLError) -> str:
    """Which of the TLS settings a context that failed to build names: the CA file when
    it fails alone, else the client's certificate, key or password."""
    try:
        ssl.create_default_context(cafile=cafile)
    except ssl.SSLError as ca_exc:
        return f"UTXOIQ_KAFKA_SSL_CAFILE is not a PEM CA file: {ca_exc}"
    return (
        "UTXOIQ_KAFKA_SSL_CERTFILE, UTXOIQ_KAFKA_SSL_KEYFILE or "
        f"UTXOIQ_KAFKA_SSL_KEY_PASSWORD cannot be loaded: {exc}"
    )
