"""The ``utxoiq`` console command."""

from __future__ import annotations

import typer
from aiokafka.errors import KafkaConnectionError, KafkaError

from consumer.cli import (
    bench,
    config_cmd,
    consume,
    db,
    dlq,
    publish,
    query,
    replay,
    schemas_cmd,
)
from consumer.cli.common import load_settings, run
from consumer.cli.errors import EXIT_FAILURE, EXIT_USAGE, fail
from consumer.diagnose import explain_database, explain_kafka, kafka_cause
from consumer.errors import ConfigurationError, PermissionMissing, one_line

app = typer.Typer(
    name="utxoiq",
    help="utxoIQ ingestion: Kafka events into PostgreSQL, exactly once.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(schemas_cmd.app, name="schemas")
app.add_typer(query.app, name="query")
app.add_typer(config_cmd.app, name="config")
app.command("consume")(consume.consume)
app.command("publish")(publish.publish)
app.command("replay")(replay.replay)
app.add_typer(dlq.app, name="dlq")
app.add_typer(bench.app, name="bench")


def main() -> None:
    """Entry point: known failures become one line on stderr and a non-zero exit."""
    try:
        code = _run_app()
    except PermissionMissing as exc:
        fail(str(exc), EXIT_FAILURE)
    except ConfigurationError as exc:
        fail(str(exc), EXIT_USAGE)
    except Exception as exc:
        message = explain(exc)
        if message is None:
            raise
        fail(message, EXIT_FAILURE)
    raise SystemExit(code)


def _run_app() -> int:
    """Run the command; a usage error is one line naming the command's --help.

    Typer raises click's exception classes (vendored in newer releases), so they are
    recognised by name and shape rather than imported.
    """
    try:
        result = app(standalone_mode=False)
    except Exception as exc:
        kind = type(exc).__name__
        context = getattr(exc, "ctx", None)
        if kind == "NoArgsIsHelpError" and context is not None:
            typer.echo(context.get_help())
            return 0
        if hasattr(exc, "format_message") and getattr(exc, "exit_code", None) == EXIT_USAGE:
            where = f" (see '{context.command_path} --help')" if context is not None else ""
            fail(one_line(exc.format_message()) + where, EXIT_USAGE)
        if kind == "Abort":
            return 130
        raise
    return result if isinstance(result, int) else 0


def explain(exc: Exception) -> str | None:
    """One line for a failure to reach, or be let in by, Kafka or PostgreSQL."""
    if isinstance(exc, KafkaConnectionError):
        kafka = load_settings().kafka
        return explain_kafka(kafka, run(kafka_cause(kafka)))
    if isinstance(exc, KafkaError):
        return f"Kafka: {type(exc).__name__}: {one_line(str(exc))}"
    database = explain_database(exc)
    if database is None and isinstance(exc, OSError):
        return f"cannot connect: {one_line(str(exc))}"
    return database


if __name__ == "__main__":
    main()
