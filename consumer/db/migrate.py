"""Alembic, driven from Python: ``utxoiq db upgrade`` and ``utxoiq db downgrade``."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.ext.asyncio import create_async_engine

from consumer.settings import DatabaseSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database: DatabaseSettings) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database.sqlalchemy_url.replace("%", "%%"))
    config.attributes["connect_args"] = database.sqlalchemy_connect_args()
    return config


def upgrade(database: DatabaseSettings, revision: str = "head") -> None:
    command.upgrade(alembic_config(database), revision)


def downgrade(database: DatabaseSettings, revision: str = "base") -> None:
    command.downgrade(alembic_config(database), revision)


def reverted_by(current: str | None, target: str) -> list[tuple[str, str]]:
    """The migrations a downgrade from ``current`` (None: no schema) to ``target`` undoes,
    newest first, each as (revision, what it made). Raises alembic's ``RevisionError``
    for a revision unknown or not below ``current``."""
    if current is None:
        return []
    scripts = ScriptDirectory(str(MIGRATIONS))
    return [(script.revision, script.doc) for script in scripts.iterate_revisions(current, target)]


def head_revision() -> str | None:
    """The newest migration in the package (no database or settings needed)."""
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def is_known_revision(revision: str) -> bool:
    """True when ``revision`` is one of the package's migrations (False: a newer code's)."""
    try:
        return ScriptDirectory(str(MIGRATIONS)).get_revision(revision) is not None
    except CommandError:
        return False


async def current_revision(database: DatabaseSettings) -> str | None:
    engine = create_async_engine(
        database.sqlalchemy_url, connect_args=database.sqlalchemy_connect_args()
    )
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(
                lambda sync: MigrationContext.configure(sync).get_current_revision()
            )
    finally:
        await engine.dispose()
