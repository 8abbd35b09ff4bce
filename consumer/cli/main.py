"""The ``utxoiq`` console command."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer
from aiokafka.errors import KafkaConnectionError, KafkaError

from consumer.cli import (
    bench,
    breaker,
    config_cmd,
    consume,
    db,
    dlq,
    publish,
    query,
    replay,
    schemas_cmd,
    status,
)
from consumer.cli.addresses import ADDRESSES, explain_database_failure, explain_kafka_failure
from consumer.cli.common import load_settings, run
from consumer.cli.errors import EXIT_FAILURE, EXIT_USAGE, fail
from consumer.cli.files import FileProblem, describe_os_error
from consumer.cli.help import without_flag_placeholders
from consumer.errors import ConfigurationError, DeploymentError, one_line
from consumer.logs import CLIENT_LOGGER

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
app.command("status")(status.status)
app.add_typer(dlq.app, name="dlq")
app.add_typer(breaker.app, name="breaker")
app.add_typer(bench.app, name="bench")


def main() -> None:
    """Entry point: known failures become one line on stderr and a non-zero exit."""
    ADDRESSES.adopt(os.environ, Path.cwd())
    # A command explains a failure to reach Kafka in one line of its own; the client's
    # log lines (``consume`` configures its logging afresh) would say it again, raw.
    logging.getLogger(CLIENT_LOGGER).setLevel(logging.CRITICAL)
    try:
        code = _run_app()
    except ConfigurationError as exc:
        fail(str(exc), EXIT_USAGE)
    except DeploymentError as exc:
        fail(str(exc), EXIT_FAILURE)
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
        result = without_flag_placeholders(typer.main.get_command(app))(standalone_mode=False)
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
    """One line for a file-system failure, or a failure to reach, or be let in by, Kafka
    or PostgreSQL (naming the address tried, credentials masked)."""
    if isinstance(exc, FileProblem):
        return str(exc)
    if isinstance(exc, OSError) and exc.filename is not None:
        return describe_os_error(exc)
    if isinstance(exc, KafkaConnectionError):
        return run(explain_kafka_failure(load_settings().kafka))
    if isinstance(exc, KafkaError):
        return f"Kafka: {type(exc).__name__}: {one_line(str(exc))}"
    return explain_database_failure(exc)


if __name__ == "__main__":
    main()
