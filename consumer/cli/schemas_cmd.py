"""``utxoiq schemas``: the event contract as JSON Schema files."""

from __future__ import annotations

from pathlib import Path

import orjson
import typer

from schemas.events import EVENT_MODELS, event_type_of

app = typer.Typer(help="Event contracts: export JSON Schemas.", no_args_is_help=True)


@app.command("export")
def export(directory: Path = typer.Argument(..., help="Folder to write into (created).")) -> None:
    """Write one JSON Schema file per event type into DIRECTORY."""
    directory.mkdir(parents=True, exist_ok=True)
    for model in EVENT_MODELS:
        name = event_type_of(model)
        path = directory / f"{name}.schema.json"
        schema = model.model_json_schema()
        schema["$id"] = f"https://utxoiq.dev/schemas/{name}.schema.json"
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        path.write_bytes(orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        typer.echo(str(path))
