"""Settings, one class per external system, read from the environment.

``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` keep their conventional names; every
other variable has the ``UTXOIQ_`` prefix (``UTXOIQ_KAFKA_SASL_PASSWORD``,
``UTXOIQ_BATCH_MAX_RECORDS`` ...). Secrets are ``SecretStr`` and never printed.
"""

from __future__ import annotations

import ssl
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from consumer.errors import ConfigurationError
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


class PgSslMode(StrEnum):
    """PostgreSQL TLS modes, as libpq names them."""

    DISABLE = "disable"
    """Never TLS."""
    ALLOW = "allow"
    """Plain first, TLS if the server insists."""
    PREFER = "prefer"
    """TLS if the server offers it, without verifying it (the driver's default)."""
    REQUIRE = "require"
    """TLS always; the certificate is verified only when a CA file is given."""
    VERIFY_CA = "verify-ca"
    """TLS with a certificate signed by the CA."""
    VERIFY_FULL = "verify-full"
    """TLS with a certificate signed by the CA and naming the host (production choice)."""


_LIBPQ_TLS_PARAMS = ("sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "sslcrl")


def _existing_file(value: str | None) -> str | None:
    if value is not None and not Path(value).is_file():
        raise ValueError(f"no such file: {value}")
    return value


_COMMON = {
    "env_file": None,
    "env_ignore_empty": True,
    "extra": "ignore",
    "case_sensitive": False,
    "populate_by_name": True,
}


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

    @field_validator("ssl_cafile", "ssl_certfile", "ssl_keyfile")
    @classmethod
    def _file_exists(cls, value: str | None) -> str | None:
        return _existing_file(value)

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
    def _tls_files_need_tls(self) -> KafkaSettings:
        tls = self.security_protocol in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL)
        if not tls and (self.ssl_cafile or self.ssl_certfile or self.ssl_keyfile):
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
    pool_max_size: int | None = Field(default=None, ge=1)
    """Caps the consumer's write pool; unset, it has one connection per write lane of each
    pipeline it runs, plus one."""
    connect_timeout_s: float = Field(default=10.0, gt=0)
    statement_timeout_ms: int = Field(default=60_000, ge=0)
    sslmode: PgSslMode | None = None
    ssl_ca_file: str | None = None

    @field_validator("url")
    @classmethod
    def _postgres_url(cls, value: SecretStr) -> SecretStr:
        parts = urlsplit(value.get_secret_value())
        if parts.scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
            raise ValueError("expected a postgresql:// URL")
        mode = dict(parse_qsl(parts.query)).get("sslmode")
        if mode is not None and mode not in {m.value for m in PgSslMode}:
            raise ValueError(f"unknown sslmode {mode!r} in the URL")
        return value

    @field_validator("ssl_ca_file")
    @classmethod
    def _ca_exists(cls, value: str | None) -> str | None:
        return _existing_file(value)

    @model_validator(mode="after")
    def _pool_sizes(self) -> DatabaseSettings:
        if self.pool_max_size is not None and self.pool_min_size > self.pool_max_size:
            raise ValueError("UTXOIQ_DB_POOL_MIN_SIZE exceeds UTXOIQ_DB_POOL_MAX_SIZE")
        return self

    @cached_property
    def url_query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url.get_secret_value()).query))

    @cached_property
    def effective_sslmode(self) -> PgSslMode | None:
        """UTXOIQ_DB_SSLMODE, else the URL's ``sslmode``, else verify-full when a CA is given."""
        if self.sslmode is not None:
            return self.sslmode
        if "sslmode" in self.url_query:
            return PgSslMode(self.url_query["sslmode"])
        return PgSslMode.VERIFY_FULL if self.ca_file else None

    @cached_property
    def ca_file(self) -> str | None:
        """UTXOIQ_DB_SSL_CA_FILE, else the URL's ``sslrootcert``."""
        return self.ssl_ca_file or self.url_query.get("sslrootcert")

    def ssl_argument(self) -> ssl.SSLContext | str | None:
        """What asyncpg's ``ssl=`` takes: a verifying context when a CA is given, else the mode."""
        mode = self.effective_sslmode
        weak = (PgSslMode.DISABLE, PgSslMode.ALLOW, PgSslMode.PREFER)
        if mode is None or self.ca_file is None or mode in weak:
            return None if mode is None else mode.value
        context = ssl.create_default_context(cafile=self.ca_file)
        context.check_hostname = mode is PgSslMode.VERIFY_FULL
        return context

    def sqlalchemy_connect_args(self) -> dict[str, Any]:
        """``connect_args`` for an engine on ``sqlalchemy_url`` (carries the CA file)."""
        argument = self.ssl_argument()
        return {} if argument is None else {"ssl": argument}

    @cached_property
    def dsn(self) -> str:
        """The URL as asyncpg takes it (``postgresql://``)."""
        parts = urlsplit(self.url.get_secret_value())
        return urlunsplit(("postgresql", *parts[1:]))

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The URL for SQLAlchemy's asyncpg dialect: libpq TLS parameters become ``ssl=``.

        A CA file cannot travel in this URL: pass ``sqlalchemy_connect_args()`` to the
        engine, or set ``PGSSLROOTCERT``, which asyncpg reads.
        """
        parts = urlsplit(self.url.get_secret_value())
        query = [(k, v) for k, v in parse_qsl(parts.query) if k not in _LIBPQ_TLS_PARAMS]
        if self.effective_sslmode is not None:
            query.append(("ssl", self.effective_sslmode.value))
        return urlunsplit(("postgresql+asyncpg", *parts[1:3], urlencode(query), parts.fragment))

    def address(self) -> str:
        """``host:port/database`` of the URL, without user or password."""
        parts = urlsplit(self.url.get_secret_value())
        host = parts.netloc.rsplit("@", 1)[-1] or "localhost"
        return f"{host}{parts.path}"

    def masked_url(self) -> str:
        """The URL with its password (in the user part or the query) replaced by ``***``."""
        parts = urlsplit(self.url.get_secret_value())
        netloc = parts.netloc
        if "@" in netloc:
            userinfo, host = netloc.rsplit("@", 1)
            user = userinfo.split(":", 1)[0]
            netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
        query = [
            (k, "***" if k in ("password", "sslpassword") else v) for k, v in parse_qsl(parts.query)
        ]
        return urlunsplit((parts.scheme, netloc, parts.path, urlencode(query, safe="*/"), ""))


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
    batch_max_age_ms: int = Field(default=20, ge=1)
    max_event_bytes: int = Field(default=DEFAULT_MAX_EVENT_BYTES, ge=256)
    write_lanes: int = Field(default=3, ge=1, le=16)
    async_commit: bool = True
    retry_initial_backoff_ms: int = Field(default=200, ge=1)
    retry_max_backoff_ms: int = Field(default=10_000, ge=1)
    retry_budget: int = Field(default=20, ge=1)
    breaker_window: int = Field(default=1_000, ge=10)
    breaker_threshold: float = Field(default=0.5, gt=0, le=1.0)
    breaker_cooldown_s: float = Field(default=30.0, gt=0)
    breaker_max_cooldown_s: float = Field(default=480.0, gt=0)
    """The ceiling of the cool-down, which doubles each time a half-open breaker reopens
    (never below ``breaker_cooldown_s``)."""
    shutdown_timeout_s: float = Field(default=30.0, gt=0)
    session_timeout_ms: int = Field(default=10_000, ge=1_000)
    max_poll_interval_ms: int = Field(default=300_000, ge=10_000)
    check_crcs: bool = True
    """Whether the Kafka client checks the CRC32C of every record batch it fetches: about
    0.2 us per record in its C parser (``docs/hot-path.md``)."""
    create_topics: bool = True
    migrate_on_start: bool = True
    startup_timeout_s: float = Field(default=60.0, ge=0)
    metrics_partitions: int = Field(default=6, ge=1)
    default_partitions: int = Field(default=3, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    log_flood_interval_s: float = Field(default=10.0, gt=0)
    """The Kafka client's repeated warnings and errors: one summary line per cause per
    interval, with a count."""
    http_port: Annotated[int, Field(ge=0, le=65535)] | Literal["off"] = 9400
    """The operations endpoint's port; ``off``: no endpoint; 0: a free port the system
    picks. A port that cannot be bound stops the start."""
    http_host: str = "0.0.0.0"
    health_stall_s: float = Field(default=120.0, gt=0)
    health_paused_stall_s: float = Field(default=900.0, gt=0)
    """The bound for a partition paused (retrying, or behind an open breaker) since its
    position last moved: records waiting and no progress for this long fail liveness."""
    ready_db_timeout_s: float = Field(default=2.0, gt=0)

    @model_validator(mode="after")
    def _backoff_order(self) -> IngestSettings:
        if self.retry_initial_backoff_ms > self.retry_max_backoff_ms:
            raise ValueError("UTXOIQ_RETRY_INITIAL_BACKOFF_MS exceeds UTXOIQ_RETRY_MAX_BACKOFF_MS")
        return self

    def group_id(self, stream: Stream) -> str:
        return f"{self.group_prefix}-{stream.value}"


class MetricsRetentionSettings(BaseSettings):
    """How long metric samples and rollups are kept, and how far ahead a sample may be."""

    model_config = SettingsConfigDict(env_prefix="UTXOIQ_METRICS_", **_COMMON)  # type: ignore[typeddict-item]

    raw_retention_days: int = Field(default=30, ge=1, le=36_500)
    """Raw samples older than this are expired: neither stored nor rolled up; their daily
    partitions are dropped."""
    future_horizon_days: int = Field(default=7, ge=1, le=366)
    """A sample later than this ahead of now is refused at ``validate``; daily partitions
    are made this far ahead."""
    hourly_retention_days: int = Field(default=400, ge=1, le=36_500)
    """Hourly rollup buckets older than this are deleted."""
    daily_retention_days: int | None = Field(default=None, ge=1)
    """Daily rollup buckets older than this are deleted; unset, they are kept."""

    @model_validator(mode="after")
    def _hourly_outlive_raw(self) -> MetricsRetentionSettings:
        if self.hourly_retention_days < self.raw_retention_days:
            raise ValueError(
                "UTXOIQ_METRICS_HOURLY_RETENTION_DAYS is below UTXOIQ_METRICS_RAW_RETENTION_DAYS"
            )
        return self


class Settings:
    """Every setting of the service, each external system in its own class."""

    def __init__(
        self,
        kafka: KafkaSettings | None = None,
        database: DatabaseSettings | None = None,
        topics: TopicSettings | None = None,
        ingest: IngestSettings | None = None,
        metrics: MetricsRetentionSettings | None = None,
    ) -> None:
        self.kafka = kafka or load(KafkaSettings)
        self.database = database or load(DatabaseSettings)
        self.topics = topics or load(TopicSettings)
        self.ingest = ingest or load(IngestSettings)
        self.metrics = metrics or load(MetricsRetentionSettings)


SettingsT = TypeVar("SettingsT", bound=BaseSettings)


def env_name(model: type[BaseSettings], field: str) -> str:
    """The environment variable a field is read from (its conventional name first)."""
    alias = model.model_fields[field].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return (str(model.model_config.get("env_prefix", "")) + field).upper()


def is_secret(model: type[BaseSettings], field: str) -> bool:
    return "SecretStr" in str(model.model_fields[field].annotation)


def _field_of(model: type[BaseSettings], name: str) -> str | None:
    for field in model.model_fields:
        if name.lower() in (field, env_name(model, field).lower()):
            return field
    return None


def describe_error(model: type[BaseSettings], error: ValidationError) -> str:
    """One line naming each wrong setting by its environment variable (secrets not shown)."""
    parts = []
    for item in error.errors(include_url=False):
        message = item["msg"].removeprefix("Value error, ")
        field = _field_of(model, str(item["loc"][0])) if item["loc"] else None
        if field is None:
            parts.append(message)
            continue
        shown = item["input"]
        got = "" if is_secret(model, field) or isinstance(shown, dict) else f" (got {shown!r})"
        parts.append(f"{env_name(model, field)}{got}: {message}")
    return "invalid setting: " + "; ".join(parts)


def load(model: type[SettingsT]) -> SettingsT:
    """Read one settings class from the environment; ConfigurationError names what is wrong."""
    try:
        return model()
    except ValidationError as exc:
        raise ConfigurationError(describe_error(model, exc)) from exc


class ReadSideSettings(BaseSettings):
    """The read side's connection pool: size, waits and the per-statement time limit."""

    model_config = SettingsConfigDict(env_prefix="UTXOIQ_READ_", **_COMMON)  # type: ignore[typeddict-item]

    pool_size: int = Field(default=5, ge=1, le=100)
    max_overflow: int = Field(default=5, ge=0, le=100)
    pool_timeout_s: float = Field(default=10.0, gt=0)
    pool_recycle_s: float = Field(default=1_800.0, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    statement_timeout_ms: int = Field(default=15_000, ge=0)
    parallel_workers: int = Field(default=0, ge=0, le=64)
    """Workers a read may use (``max_parallel_workers_per_gather``); its queries are small."""
