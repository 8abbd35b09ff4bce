"""``utxoiq config``: the effective settings, as environment variables, secrets masked."""

from __future__ import annotations

from enum import Enum, StrEnum
from typing import Any

import orjson
import typer
from pydantic import SecretStr
from pydantic_settings import BaseSettings

from consumer.cli.addresses import ADDRESS_VARIABLES, ADDRESSES
from consumer.cli.common import load_settings
from consumer.settings import DatabaseSettings, Settings, env_name

app = typer.Typer(help="Configuration: show the effective settings.", no_args_is_help=True)

MASK = "***"


class OutputFormat(StrEnum):
    """How ``config show`` prints."""

    ENV = "env"
    """One ``VAR=value`` line per setting, under a ``# section`` line per system."""
    JSON = "json"
    """One JSON object per system."""


def shown_value(value: Any) -> str:
    """A setting's value as an environment variable would hold it; secrets masked."""
    if value is None:
        return ""
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def section_env(section: BaseSettings) -> dict[str, str]:
    """One settings class as ``{ENV_NAME: value}``; the database URL keeps all but its password."""
    model = type(section)
    shown = {}
    for field in model.model_fields:
        value = getattr(section, field)
        if isinstance(section, DatabaseSettings) and field == "url":
            shown[env_name(model, field)] = section.masked_url()
        else:
            shown[env_name(model, field)] = shown_value(value)
    return shown


def sections(settings: Settings) -> dict[str, dict[str, str]]:
    """Every settings class of the composite, by its name there."""
    return {
        name: section_env(section)
        for name, section in vars(settings).items()
        if isinstance(section, BaseSettings)
    }


def address_origins() -> dict[str, str]:
    """Each address variable with where its value came from."""
    return {name: ADDRESSES.source(name).describe() for name in ADDRESS_VARIABLES}


@app.command()
def show(
    output: OutputFormat = typer.Option(
        OutputFormat.ENV, "--format", "-f", help="env: VAR=value lines; json: an object per system."
    ),
) -> None:
    """Print the effective settings (environment and defaults), secrets masked, and where
    the broker and database addresses came from (environment, local stack or default)."""
    shown = sections(load_settings())
    origins = address_origins()
    if output is OutputFormat.JSON:
        document = {"address_sources": origins, **shown}
        typer.echo(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode())
        return
    for variable, origin in origins.items():
        typer.echo(f"# {variable} from {origin}")
    for name, values in shown.items():
        typer.echo(f"# {name}")
        for key, value in values.items():
            typer.echo(f"{key}={value}")
