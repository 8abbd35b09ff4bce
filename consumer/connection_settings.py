"""Settings of the two servers the service connects to: Kafka (addresses, security,
client tuning) and PostgreSQL (URL, TLS, pool), read from the environment.

``KAFKA_BOOTSTRAP_SERVERS`` and ``DATABASE_URL`` keep their conventional names; the
other variables have the ``UTXOIQ_`` prefix. Secrets are ``SecretStr`` and never printed.
``consumer.settings`` gathers these with the service's own settings.
"""

from __future__ import annotations

import ssl
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict


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
        if Path(value).is_dir():
            raise ValueError(f"a folder, not a file: {value}")
        raise ValueError(f"no such file: {value}")
    return value


def _is_host_and_port(server: str) -> bool:
    host, _, port = server.rpartition(":")
    return bool(host) and port.isdigit() and 1 <= int(port) <= 65535


COMMON_CONFIG = {
    "env_file": None,
    "env_ignore_empty": True,
    "extra": "ignore",
    "case_sensitive": False,
    "populate_by_name": True,
}


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
    def _tls_files_load(self) -> KafkaSettings:
        """A CA, certificate or key the TLS library cannot load is this setting's fault,
        said at start, not a failure to reach the broker later."""
        if self.security_protocol not in (SecurityProtocol.SSL, SecurityProtocol.SASL_SSL):
            return self
        try:
            ssl.create_default_context(cafile=self.ssl_cafile)
        except ssl.SSLError as exc:
            raise ValueError(f"UTXOIQ_KAFKA_SSL_CAFILE is not a PEM CA file: {exc}") from None
        if self.ssl_certfile:
            try:
                self._ssl_context()
            except ssl.SSLError as exc:
                raise ValueError(
                    "UTXOIQ_KAFKA_SSL_CERTFILE, UTXOIQ_KAFKA_SSL_KEYFILE or "
                    f"UTXOIQ_KAFKA_SSL_KEY_PASSWORD cannot be loaded: {exc}"
                ) from None
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

    model_config = SettingsConfigDict(env_prefix="UTXOIQ_DB_", **COMMON_CONFIG)  # type: ignore[typeddict-item]

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
