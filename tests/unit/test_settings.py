"""Settings: environment names, validation messages, TLS options and masking."""

from __future__ import annotations

import ssl
from pathlib import Path

import certifi
import pytest
from aiokafka import errors as kafka_errors
from pydantic_settings import BaseSettings

from consumer.cli.config_cmd import sections
from consumer.diagnose import explain_database, explain_kafka
from consumer.errors import ConfigurationError
from consumer.service import write_pool_size
from consumer.settings import (
    DatabaseSettings,
    IngestSettings,
    KafkaSettings,
    MetricsRetentionSettings,
    PgSslMode,
    ReadSideSettings,
    Settings,
    TopicSettings,
    env_name,
    load,
)

REPO = Path(__file__).resolve().parents[2]
CLASSES: tuple[type[BaseSettings], ...] = (
    KafkaSettings,
    DatabaseSettings,
    TopicSettings,
    IngestSettings,
    ReadSideSettings,
    MetricsRetentionSettings,
)
SASL_ENV = {
    "UTXOIQ_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "UTXOIQ_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "UTXOIQ_KAFKA_SASL_USERNAME": "ingest",
    "UTXOIQ_KAFKA_SASL_PASSWORD": "kafka-secret-value",
}


def all_env_names() -> set[str]:
    return {env_name(model, field) for model in CLASSES for field in model.model_fields}


def example_names() -> set[str]:
    lines = (REPO / ".env.example").read_text().splitlines()
    return {line.split("=", 1)[0] for line in lines if line and not line.startswith("#")}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment with none of the service's variables set."""
    for name in all_env_names() | {"UTXOIQ_DB_URL", "UTXOIQ_KAFKA_BOOTSTRAP_SERVERS"}:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_conventional_names_and_prefix() -> None:
    names = all_env_names()
    assert {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"} <= names
    others = names - {"KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL"}
    assert all(name.startswith("UTXOIQ_") for name in others)


def test_env_example_documents_every_variable() -> None:
    assert example_names() == all_env_names()


def test_env_example_values_are_the_defaults(env: pytest.MonkeyPatch) -> None:
    defaults = sections(Settings()), ReadSideSettings()
    for line in (REPO / ".env.example").read_text().splitlines():
        if line and not line.startswith("#"):
            name, value = line.split("=", 1)
            env.setenv(name, value)
    assert (sections(Settings()), ReadSideSettings()) == defaults


def test_reads_conventional_names(env: pytest.MonkeyPatch) -> None:
    env.setenv("KAFKA_BOOTSTRAP_SERVERS", "k1:9092, k2:9092")
    env.setenv("DATABASE_URL", "postgresql://u@db:5432/x")
    env.setenv("UTXOIQ_BATCH_MAX_RECORDS", "42")
    settings = Settings()
    assert settings.kafka.bootstrap_servers == "k1:9092,k2:9092"
    assert settings.database.dsn == "postgresql://u@db:5432/x"
    assert settings.ingest.batch_max_records == 42


def test_empty_value_means_unset(env: pytest.MonkeyPatch) -> None:
    env.setenv("UTXOIQ_KAFKA_SASL_MECHANISM", "")
    env.setenv("UTXOIQ_DB_SSLMODE", "")
    settings = Settings()
    assert settings.kafka.sasl_mechanism is None
    assert settings.database.sslmode is None


NOT_PEM = Path(__file__).as_posix()
"""A file that exists and holds no certificate."""


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"UTXOIQ_BATCH_MAX_RECORDS": "0"}, "UTXOIQ_BATCH_MAX_RECORDS (got '0')"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "nohost"}, "KAFKA_BOOTSTRAP_SERVERS (got 'nohost')"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "h:notaport"}, "KAFKA_BOOTSTRAP_SERVERS (got 'h:notaport')"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "h:9092,h:0"}, "each port from 1 to 65535"),
        ({"DATABASE_URL": "mysql://x/y"}, "DATABASE_URL: expected a postgresql:// URL"),
        ({"DATABASE_URL": "postgresql://h/d?sslmode=on"}, "DATABASE_URL: unknown sslmode"),
        ({"UTXOIQ_DB_SSLMODE": "yes"}, "UTXOIQ_DB_SSLMODE (got 'yes')"),
        ({"UTXOIQ_DB_SSL_CA_FILE": "/no/such/ca.pem"}, "UTXOIQ_DB_SSL_CA_FILE"),
        ({"UTXOIQ_KAFKA_SSL_CAFILE": "/no/such/ca.pem"}, "UTXOIQ_KAFKA_SSL_CAFILE"),
        (
            {"UTXOIQ_KAFKA_SECURITY_PROTOCOL": "SSL", "UTXOIQ_KAFKA_SSL_CAFILE": "/"},
            "UTXOIQ_KAFKA_SSL_CAFILE (got '/'): a folder, not a file",
        ),
        (
            {"UTXOIQ_KAFKA_SECURITY_PROTOCOL": "SSL", "UTXOIQ_KAFKA_SSL_CAFILE": NOT_PEM},
            "UTXOIQ_KAFKA_SSL_CAFILE is not a PEM CA file",
        ),
        (
            {"UTXOIQ_KAFKA_SECURITY_PROTOCOL": "SSL", "UTXOIQ_KAFKA_SSL_CERTFILE": NOT_PEM},
            "UTXOIQ_KAFKA_SSL_CERTFILE, UTXOIQ_KAFKA_SSL_KEYFILE or",
        ),
        ({"UTXOIQ_LOG_FORMAT": "xml"}, "UTXOIQ_LOG_FORMAT (got 'xml')"),
        ({"UTXOIQ_KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "UTXOIQ_KAFKA_SASL_PASSWORD"),
        ({"UTXOIQ_KAFKA_SASL_USERNAME": "u"}, "UTXOIQ_KAFKA_SECURITY_PROTOCOL is PLAINTEXT"),
        (
            {"UTXOIQ_DB_POOL_MIN_SIZE": "9", "UTXOIQ_DB_POOL_MAX_SIZE": "5"},
            "UTXOIQ_DB_POOL_MIN_SIZE exceeds",
        ),
        ({"UTXOIQ_RETRY_INITIAL_BACKOFF_MS": "99999"}, "UTXOIQ_RETRY_INITIAL_BACKOFF_MS"),
    ],
)
def test_wrong_setting_is_one_line_naming_it(
    env: pytest.MonkeyPatch, variables: dict[str, str], named: str
) -> None:
    for name, value in variables.items():
        env.setenv(name, value)
    with pytest.raises(ConfigurationError) as caught:
        Settings()
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("invalid setting: ")
    assert named in message


def test_secret_values_never_appear(env: pytest.MonkeyPatch) -> None:
    for name, value in SASL_ENV.items():
        env.setenv(name, value)
    env.setenv("UTXOIQ_KAFKA_SASL_MECHANISM", "SCRAM-SHA-999")
    with pytest.raises(ConfigurationError) as caught:
        load(KafkaSettings)
    assert "kafka-secret-value" not in str(caught.value)
    env.setenv("UTXOIQ_KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    env.setenv("DATABASE_URL", "postgresql://ingest:db-secret-value@db/x?password=db-secret-value")
    settings = Settings()
    shown = sections(settings)
    assert shown["kafka"]["UTXOIQ_KAFKA_SASL_PASSWORD"] == "***"
    assert shown["database"]["DATABASE_URL"] == "postgresql://ingest:***@db/x?password=***"
    text = repr(shown) + repr(settings.kafka) + repr(settings.database)
    assert "kafka-secret-value" not in text
    assert "db-secret-value" not in text


def test_sasl_client_options(env: pytest.MonkeyPatch) -> None:
    for name, value in SASL_ENV.items():
        env.setenv(name, value)
    options = load(KafkaSettings).client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert options["sasl_plain_password"] == "kafka-secret-value"
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_sqlalchemy_url_turns_sslmode_into_asyncpg_ssl() -> None:
    database = DatabaseSettings(
        url=f"postgresql://u:p%40w@db:5432/x?sslmode=verify-ca&sslrootcert={certifi.where()}"
        "&application_name=a"
    )
    assert database.sqlalchemy_url == (
        "postgresql+asyncpg://u:p%40w@db:5432/x?application_name=a&ssl=verify-ca"
    )
    assert database.effective_sslmode is PgSslMode.VERIFY_CA
    context = database.ssl_argument()
    assert isinstance(context, ssl.SSLContext)
    assert context.verify_mode is ssl.CERT_REQUIRED
    assert not context.check_hostname
    assert isinstance(database.sqlalchemy_connect_args()["ssl"], ssl.SSLContext)


def test_ca_file_alone_means_verify_full() -> None:
    database = DatabaseSettings(url="postgresql://u@db/x", ssl_ca_file=certifi.where())
    assert database.effective_sslmode is PgSslMode.VERIFY_FULL
    context = database.ssl_argument()
    assert isinstance(context, ssl.SSLContext)
    assert context.check_hostname
    assert database.sqlalchemy_url.endswith("?ssl=verify-full")


def test_mode_without_ca_is_passed_as_is() -> None:
    database = DatabaseSettings(url="postgresql://u@db/x?sslmode=prefer", sslmode="require")
    assert database.ssl_argument() == "require"
    assert database.sqlalchemy_url == "postgresql+asyncpg://u@db/x?ssl=require"
    assert DatabaseSettings(url="postgresql://u@db/x").ssl_argument() is None


def test_kafka_authentication_failure_names_the_credentials() -> None:
    kafka = KafkaSettings(
        bootstrap_servers="k:9094",
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-512",
        sasl_username="utxoiq",
        sasl_password="wrong",
    )
    message = explain_kafka(kafka, kafka_errors.SaslAuthenticationFailed("bad credentials"))
    assert "authentication failed for user 'utxoiq' with SCRAM-SHA-512" in message
    assert "UTXOIQ_KAFKA_SASL_PASSWORD" in message
    assert "wrong" not in message
    assert "KAFKA_BOOTSTRAP_SERVERS" in explain_kafka(kafka, ConnectionRefusedError("refused"))


def test_database_failures_name_the_setting() -> None:
    class PasswordFailed(Exception):
        sqlstate = "28P01"

    wrapped = RuntimeError("wrapped")
    wrapped.__cause__ = PasswordFailed("password authentication failed")
    assert "check DATABASE_URL" in (explain_database(wrapped) or "")
    assert "DATABASE_URL" in (explain_database(ConnectionRefusedError("refused")) or "")
    assert explain_database(ValueError("unrelated")) is None


def test_write_pool_has_a_connection_per_lane_unless_capped(env: pytest.MonkeyPatch) -> None:
    env.setenv("UTXOIQ_WRITE_LANES", "3")
    assert write_pool_size(Settings(), pipelines=3) == 10
    assert write_pool_size(Settings(), pipelines=1) == 4
    env.setenv("UTXOIQ_DB_POOL_MAX_SIZE", "5")
    assert write_pool_size(Settings(), pipelines=3) == 5
    assert write_pool_size(Settings(), pipelines=1) == 4


def test_pool_min_size_needs_no_cap(env: pytest.MonkeyPatch) -> None:
    env.setenv("UTXOIQ_DB_POOL_MIN_SIZE", "9")
    assert Settings().database.pool_max_size is None
