"""The read side's engine: one per process and configuration, with its session settings."""

from __future__ import annotations

from consumer.readside.engine import connect_args, dispose_engines, shared_engine
from consumer.settings import DatabaseSettings, ReadSideSettings

URL = "postgresql://reader@127.0.0.1:1/none"


async def test_one_engine_is_shared_per_database_and_pool_configuration() -> None:
    database, read = DatabaseSettings(url=URL), ReadSideSettings(pool_size=3)
    first = shared_engine(database, read)
    assert shared_engine(DatabaseSettings(url=URL), ReadSideSettings(pool_size=3)) is first
    assert shared_engine(database, ReadSideSettings(pool_size=4)) is not first
    assert first.pool.size() == 3  # type: ignore[attr-defined]
    await dispose_engines()
    assert shared_engine(database, read) is not first
    await dispose_engines()


def test_sessions_carry_the_statement_timeout_utc_and_a_name() -> None:
    options = connect_args(
        DatabaseSettings(url=URL), ReadSideSettings(statement_timeout_ms=2500, connect_timeout_s=3)
    )
    assert options["timeout"] == 3
    assert options["server_settings"] == {
        "application_name": "utxoiq-read",
        "statement_timeout": "2500",
        "max_parallel_workers_per_gather": "0",
        "timezone": "UTC",
    }


def test_tls_follows_the_database_settings() -> None:
    options = connect_args(DatabaseSettings(url=URL + "?sslmode=require"), ReadSideSettings())
    assert options["ssl"] == "require"
    assert "ssl" not in connect_args(DatabaseSettings(url=URL), ReadSideSettings())
