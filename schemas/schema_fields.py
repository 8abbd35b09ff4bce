"""A JSON Schema of an event, flattened into its fields: what the compatibility check reads.

Each field is named by its path (``data.rating``, ``data.flags[]`` for the items of a
list) and described by what a reader would accept there: the JSON types, the allowed
values when they are enumerated, the bounds (``minimum``, ``maxLength``, ``pattern``...)
and whether it is required. Titles, descriptions and defaults are documentation and are
left out. ``$ref`` is resolved against the document's own ``$defs``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

BOUNDS = (
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minItems",
    "maxItems",
    "uniqueItems",
)
"""The keywords that narrow what a value of a JSON type may be."""

LOWER_BOUNDS = frozenset({"minimum", "exclusiveMinimum", "minLength", "minItems"})
UPPER_BOUNDS = frozenset({"maximum", "exclusiveMaximum", "maxLength", "maxItems"})


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """What one field accepts."""

    required: bool
    types: frozenset[str]
    """JSON types: ``string``, ``integer``, ``number``, ``boolean``, ``null``, ``object``,
    ``array``."""
    values: frozenset[Any] | None
    """The allowed values when they are enumerated (``enum``, ``const``), else ``None``."""
    bounds: tuple[tuple[str, Any], ...]
    """(keyword, value) pairs from ``BOUNDS``, sorted."""
    closed: bool = False
    """An object that refuses unknown fields (``additionalProperties: false``)."""

    def shape(self) -> tuple[Any, ...]:
        """Everything but ``required``: equal shapes under two names suggest a rename."""
        return (self.types, self.values, self.bounds, self.closed)

    def bound(self, keyword: str) -> Any:
        return dict(self.bounds).get(keyword)


class UnreadableSchema(ValueError):
    """A JSON Schema that does not have the shape of an exported event schema."""


def flatten(schema: Mapping[str, Any]) -> dict[str, FieldSpec]:
    """Every field of an event's JSON Schema by path; the event itself is the path ``""``."""
    try:
        return dict(_walk(schema, "", True, schema.get("$defs", {})))
    except (KeyError, TypeError, AttributeError) as exc:
        raise UnreadableSchema(f"{type(exc).__name__}: {exc}") from exc


def _resolve(node: Mapping[str, Any], definitions: Mapping[str, Any]) -> Mapping[str, Any]:
    while "$ref" in node:
        node = definitions[str(node["$ref"]).rsplit("/", 1)[-1]]
    return node


def _branches(node: Mapping[str, Any], definitions: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    node = _resolve(node, definitions)
    alternatives = node.get("anyOf") or node.get("oneOf")
    if not alternatives:
        return [node]
    return [b for alt in alternatives for b in _branches(alt, definitions)]


def _walk(
    node: Mapping[str, Any], path: str, required: bool, definitions: Mapping[str, Any]
) -> Iterator[tuple[str, FieldSpec]]:
    branches = _branches(node, definitions)
    yield path, _spec(branches, required)
    for branch in branches:
        needed = set(branch.get("required", ()))
        for name, child in branch.get("properties", {}).items():
            yield from _walk(child, f"{path}.{name}" if path else name, name in needed, definitions)
        if "items" in branch:
            yield from _walk(branch["items"], f"{path}[]", True, definitions)


def _spec(branches: list[Mapping[str, Any]], required: bool) -> FieldSpec:
    types: set[str] = set()
    values: set[Any] | None = set()
    bounds: dict[str, Any] = {}
    for branch in branches:
        types |= _types(branch)
        enumerated = _values(branch)
        values = None if values is None or enumerated is None else values | enumerated
        bounds.update({k: _hashable(branch[k]) for k in BOUNDS if k in branch})
    closed = any(b.get("additionalProperties") is False for b in branches)
    frozen = None if values is None else frozenset(values)
    return FieldSpec(required, frozenset(types), frozen, tuple(sorted(bounds.items())), closed)


def _types(branch: Mapping[str, Any]) -> set[str]:
    declared = branch.get("type")
    if declared is None:
        return {_json_type(v) for v in _values(branch) or ()}
    return set(declared) if isinstance(declared, list) else {declared}


def _values(branch: Mapping[str, Any]) -> set[Any] | None:
    if "const" in branch:
        return {_hashable(branch["const"])}
    if "enum" in branch:
        return {_hashable(v) for v in branch["enum"]}
    if branch.get("type") == "null":
        return {None}
    return None


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", type(None): "null"}
    return names.get(type(value), "object")


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    return value
