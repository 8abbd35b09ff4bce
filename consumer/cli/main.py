"""The ``utxoiq`` console command."""

from __future__ import annotations

import typer

from consumer.cli import consume, db, publish, schemas_cmd
from consumer.cli.errors import EXIT_FAILURE, EXIT_USAGE, fail
from consumer.errors import ConfigurationError

app = typer.Typer(
    name="utxoiq",
    help="utxoIQ ingestion: Kafka events into PostgreSQL, exactly once.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(schemas_cmd.app, name="schemas")
app.command("consume")(consume.consume)
app.command("publish")(publish.publish)


def main() -> None:
    """Entry point: known failures become one line on stderr and a non-zero exit."""
    try:
        app()
    except ConfigurationError as exc:
        fail(str(exc), EXIT_USAGE)
    except (OSError, ConnectionError) as exc:
        fail(f"cannot connect: {exc}", EXIT_FAILURE)
    except Exception as exc:
        from aiokafka.errors import KafkaError

        if isinstance(exc, KafkaError):
            fail(f"Kafka: {type(exc).__name__}: {exc}", EXIT_FAILURE)
        raise


if __name__ == "__main__":
    main()
