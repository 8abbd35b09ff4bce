"""``utxoiq db``: schema migrations."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import typer
from alembic.script.revision import RevisionError
from alembic.util import CommandError

from consumer.cli.common import load_settings, run
from consumer.cli.errors import EXIT_USAGE, fail
from consumer.db import migrate
from consumer.errors import one_line
from consumer.metrics.maintain import maintain_database

app = typer.Typer(
    help="Database schema: upgrade, downgrade, current revision; partition maintenance.",
    no_args_is_help=True,
)


@app.command()
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    with _revision_checked():
        migrate.upgrade(load_settings().database, revision)
    typer.echo(f"database at {revision}")


@app.command()
def downgrade(
    revision: str = typer.Argument(
        ..., help="Target revision; 'base' drops every table and the rows in it."
    ),
    dry_run: bool = typer.Option(
        True, "--dry-run/--execute", help="List what would be undone (default), or undo it."
    ),
) -> None:
    """Revert migrations down to REVISION: what each undoes goes with its data."""
    settings = load_settings()
    current = run(migrate.current_revision(settings.database))
    with _revision_checked():
        undone = migrate.reverted_by(current, revision)
    if not undone:
        typer.echo(f"database at {current or 'no revision'}: nothing to revert to {revision}")
        return
    if dry_run:
        typer.echo(f"database at {current}; reverting to {revision} would undo:")
        for name, made in undone:
            typer.echo(f"  {name}  {one_line(made)}")
        typer.echo("dry run: nothing changed (--execute to revert, with the data it drops)")
        return
    with _revision_checked():
        migrate.downgrade(settings.database, revision)
    typer.echo(f"database at {revision}")


@contextlib.contextmanager
def _revision_checked() -> Iterator[None]:
    """A revision alembic cannot find, or cannot move to from where the database is, is
    a usage error in one line."""
    try:
        yield
    except (CommandError, RevisionError) as exc:
        fail(one_line(str(exc)), EXIT_USAGE)


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
