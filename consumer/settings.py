"""Settings, one class per external system, read from the environment. Kafka's and
PostgreSQL's connection settings live in ``consumer.kafka_settings`` and
``consumer.database_settings`` and are gathered here with the topics, ingestion,
retention and read-side settings.

``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` keep their conventional names; every
other variable has the ``UTXOIQ_`` prefix (``UTXOIQ_KAFKA_SASL_PASSWORD``,
``UTXOIQ_BATCH_MAX_RECORDS`` ...). Secrets are ``SecretStr`` and never printed.
"""

from __future__ import annotations

from typing import Annotated, Literal, TypeVar

from pydantic import (
    AliasChoices,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from consumer.connection_settings import COMMON_CONFIG
from consumer.database_settings import DatabaseSettings as DatabaseSettings
from consumer.database_settings import PgSslMode as PgSslMode
from consumer.errors import ConfigurationError
from consumer.kafka_settings import KafkaSettings as KafkaSettings
from consumer.kafka_settings import SaslMechanism as SaslMechanism
from consumer.kafka_settings import SecurityProtocol as SecurityProtocol
from schemas.codec import DEFAULT_MAX_EVENT_BYTES
from schemas.topics import CONTRACTS, Stream, dlq_topic


class TopicSettings(BaseSettings):
    """Source topic names; each dead-letter topic is the source name plus ``.dlq``."""

    model_config = SettingsConfigDict(env_prefix="UTXOIQ_TOPIC_", **COMMON_CONFIG)  # type: ignore[typeddict-item]

    jobs: str = CONTRACTS[Stream.JOBS].default_topic
    feedback: str = CONTRACTS[Stream.FEEDBACK].default_topic
    metrics: str = CONTRACTS[Stream.METRICS].default_topic

    def source(self, stream: Stream) -> str:
        return str(getattr(self, stream.value))

    def dead_letter(self, stream: Stream) -> str:
        return dlq_topic(self.source(stream))


class IngestSettings(BaseSettings):
    """How the consumer pipelines batch, retry, dead-letter and shut down."""

    model_config = SettingsConfigDict(env_prefix="UTXOIQ_", **COMMON_CONFIG)  # type: ignore[typeddict-item]

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

    model_config = SettingsConfigDict(env_prefix="UTXOIQ_METRICS_", **COMMON_CONFIG)  # type: ignore[typeddict-item]

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

    model_config = SettingsConfigDict(env_prefix="UTXOIQ_READ_", **COMMON_CONFIG)  # type: ignore[typeddict-item]

    pool_size: int = Field(default=5, ge=1, le=100)
    max_overflow: int = Field(default=5, ge=0, le=100)
    pool_timeout_s: float = Field(default=10.0, gt=0)
    pool_recycle_s: float = Field(default=1_800.0, gt=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    statement_timeout_ms: int = Field(default=15_000, ge=0)
    parallel_workers: int = Field(default=0, ge=0, le=64)
    """Workers a read may use (``max_parallel_workers_per_gather``); its queries are small."""
