"""The contract on disk: one ``<type>.schema.json`` file per event type.

``utxoiq schemas export`` writes such a folder; ``utxoiq schemas check`` reads one as its
baseline. The repository keeps the released contract in ``schemas/baseline/``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

SUFFIX = ".schema.json"


class ContractFileError(ValueError):
    """A contract folder that cannot be read or written, with the path named."""


def write_contract(schemas: Mapping[str, Mapping[str, Any]], directory: Path) -> list[Path]:
    """Write each type's schema as ``<type>.schema.json`` into ``directory`` (created)."""
    if directory.exists() and not directory.is_dir():
        raise ContractFileError(f"{directory} is a file, not a folder")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        written = []
        for event_type, schema in sorted(schemas.items()):
            path = directory / f"{event_type}{SUFFIX}"
            path.write_bytes(
                orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
            )
            written.append(path)
    except OSError as exc:
        where = exc.filename or directory
        raise ContractFileError(f"cannot write {where}: {exc.strerror}") from exc
    return written


def read_contract(directory: Path) -> dict[str, dict[str, Any]]:
    """{event type: JSON Schema} from every ``*.schema.json`` file of ``directory``."""
    if not directory.is_dir():
        what = "is a file, not a folder" if directory.exists() else "does not exist"
        raise ContractFileError(f"{directory} {what}")
    contract = {}
    for path in sorted(directory.glob(f"*{SUFFIX}")):
        try:
            schema = orjson.loads(path.read_bytes())
        except OSError as exc:
            raise ContractFileError(f"cannot read {path}: {exc.strerror}") from exc
        except orjson.JSONDecodeError as exc:
            raise ContractFileError(f"{path} is not JSON: {exc}") from exc
        if not isinstance(schema, dict):
            raise ContractFileError(f"{path} is not a JSON Schema (not an object)")
        contract[path.name.removesuffix(SUFFIX)] = schema
    if not contract:
        raise ContractFileError(f"{directory} holds no *{SUFFIX} file")
    return contract
