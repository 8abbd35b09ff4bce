"""``utxoiq db``: schema migrations."""

from __future__ import annotations

import typer

from consumer.cli.common import load_settings, run
from consumer.db import migrate
from consumer.metrics.maintain import maintain_database

app = typer.Typer(
    help="Database schema: upgrade, downgrade, current revision; partition maintenance.",
    no_args_is_help=True,
)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    migrate.upgrade(load_settings().database, revision)
    typer.echo(f"database at {revision}")


@app.command()
def downgrade(revision: str = typer.Argument("base", help="Target revision.")) -> None:
    """Revert migrations down to REVISION (default: base, which drops every table)."""
    migrate.downgrade(load_settings().database, revision)
    typer.echo(f"database at {revision}")


@app.command()
def current() -> None:
    """Print the revision the database is at, and the newest one."""
    settings = load_settings()
    revision = run(migrate.current_revision(settings.database))
    typer.echo(f"current: {revision or 'none'}  head: {migrate.head_revision()}")


@app.command()
def maintain() -> None:
    """Make metric partitions up to the future horizon, drop those past the raw retention,
    trim the rollups (UTXOIQ_METRICS_*). Safe to run at any time, by several at once."""
    settings = load_settings()
    report = run(maintain_database(settings.database, settings.metrics))
    for line in report.lines():
        typer.echo(line)
