"""Settings of the PostgreSQL database: URL, TLS, pool and timeouts, read from the
environment (``DATABASE_URL``, ``UTXOIQ_DB_*``).
"""

from __future__ import annotations

import ssl
from enum import StrEnum
from functools import cached_property
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from consumer.connection_settings import COMMON_CONFIG, existing_file


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
        return existing_file(value)

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
