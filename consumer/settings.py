"""Settings, one class per external system, read from the environment.

``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` keep their conventional names; every
other variable has the ``UTXOIQ_`` prefix (``UTXOIQ_KAFKA_SASL_PASSWORD``,
``UTXOIQ_BATCH_MAX_RECORDS`` ...). Secrets are ``SecretStr`` and never printed.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.codec import DEFAULT_MAX_EVENT_BYTES
from schemas.topics import CONTRACTS, Stream, dlq_topic


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


_COMMON = {"env_file": None, "extra": "ignore", "case_sensitive": False, "populate_by_name": True}


class KafkaSettings(BaseSettings):
    """The Kafka cluster: addresses, security and client tuning."""

    model_config = SettingsConfigDict(env_prefix="UTXOIQ_KAFKA_", **_COMMON)  # type: ignore[typeddict-item]

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
        if not servers or any(":" not in s for s in servers):
            raise ValueError("expected host:port[,host:port...]")
        return ",".join(servers)

    @model_validator(mode="after")
    def _sasl_is_complete(self) -> KafkaSettings:
        sasl = self.security_protocol.value.startswith("SASL")
        if sasl and not (self.sasl_mechanism and self.sasl_username and self.sasl_password):
            raise ValueError(
                "SASL needs UTXOIQ_KAFKA_SASL_MECHANISM, UTXOIQ_KAFKA_SASL_USERNAME "
                "and UTXOIQ_KAFKA_SASL_PASSWORD"
            )
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
        if self.security_protocol in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL):
            options["ssl_context"] = self._ssl_context()
        return options

    def _ssl_context(self) -> Any:
        from aiokafka.helpers import create_ssl_context

        password = self.ssl_key_password.get_secret_value() if self.ssl_key_password else None
        return create_ssl_context(
            cafile=self.ssl_cafile,
            certfile=self.ssl_certfile,
            keyfile=self.ssl_keyfile,
            password=password,
        )


class DatabaseSettings(BaseSettings):
    """The PostgreSQL database: URL, pool and timeouts."""

    model_config = SettingsConfigDict(env_prefix="UTXOIQ_DB_", **_COMMON)  # type: ignore[typeddict-item]

    url: SecretStr = Field(
        default=SecretStr("postgresql://utxoiq@127.0.0.1:5432/utxoiq"),
        validation_alias=AliasChoices("DATABASE_URL", "UTXOIQ_DB_URL"),
    )
    pool_min_size: int = Field(default=1, ge=0)
    pool_max_size: int = Field(default=5, ge=1)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    statement_timeout_ms: int = Field(default=60_000, ge=0)
    ssl_ca_file: str | None = None

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: SecretStr) -> SecretStr:
        raw = value.get_secret_value()
        scheme = urlsplit(raw).scheme
        if scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
            raise ValueError("expected a postgresql:// URL")
        return value

    @cached_property
    def dsn(self) -> str:
        """The URL as asyncpg takes it (``postgresql://``)."""
        parts = urlsplit(self.url.get_secret_value())
        return urlunsplit(("postgresql", *parts[1:]))

    @cached_property
    def sqlalchemy_url(self) -> str:
        parts = urlsplit(self.url.get_secret_value())
        return urlunsplit(("postgresql+asyncpg", *parts[1:]))

    def masked_url(self) -> str:
        parts = urlsplit(self.url.get_secret_value())
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
        return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


class TopicSettings(BaseSettings):
    """Source topic names; each dead-letter topic is the source name plus ``.dlq``."""

    model_config = SettingsConfigDict(env_prefix="UTXOIQ_TOPIC_", **_COMMON)  # type: ignore[typeddict-item]

    jobs: str = CONTRACTS[Stream.JOBS].default_topic
    feedback: str = CONTRACTS[Stream.FEEDBACK].default_topic
    metrics: str = CONTRACTS[Stream.METRICS].default_topic

    def source(self, stream: Stream) -> str:
        return str(getattr(self, stream.value))

    def dead_letter(self, stream: Stream) -> str:
        return dlq_topic(self.source(stream))


class IngestSettings(BaseSettings):
    """How the consumer pipelines batch, retry, dead-letter and shut down."""

    model_config = SettingsConfigDict(env_prefix="UTXOIQ_", **_COMMON)  # type: ignore[typeddict-item]

    group_prefix: str = "utxoiq-ingest"
    batch_max_records: int = Field(default=5_000, ge=1, le=100_000)
    batch_max_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    batch_max_age_ms: int = Field(default=250, ge=1)
    max_event_bytes: int = Field(default=DEFAULT_MAX_EVENT_BYTES, ge=256)
    retry_initial_backoff_ms: int = Field(default=200, ge=1)
    retry_max_backoff_ms: int = Field(default=10_000, ge=1)
    retry_budget: int = Field(default=20, ge=1)
    breaker_window: int = Field(default=1_000, ge=10)
    breaker_threshold: float = Field(default=0.5, gt=0, le=1.0)
    breaker_cooldown_s: float = Field(default=30.0, gt=0)
    shutdown_timeout_s: float = Field(default=30.0, gt=0)
    session_timeout_ms: int = Field(default=30_000, ge=6_000)
    max_poll_interval_ms: int = Field(default=300_000, ge=10_000)
    create_topics: bool = True
    metrics_partitions: int = Field(default=6, ge=1)
    default_partitions: int = Field(default=3, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    http_port: int = Field(default=9400, ge=0, le=65535)

    def group_id(self, stream: Stream) -> str:
        return f"{self.group_prefix}-{stream.value}"


class Settings:
    """Every setting of the service, each external system in its own class."""

    def __init__(
        self,
        kafka: KafkaSettings | None = None,
        database: DatabaseSettings | None = None,
        topics: TopicSettings | None = None,
        ingest: IngestSettings | None = None,
    ) -> None:
        self.kafka = kafka or KafkaSettings()
        self.database = database or DatabaseSettings()
        self.topics = topics or TopicSettings()
        self.ingest = ingest or IngestSettings()
