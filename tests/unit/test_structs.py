"""The msgspec ``Struct``s agree with the pydantic models they are derived from.

Both sides are compared through their own JSON Schema export (pydantic's and msgspec's),
so the comparison does not reuse the derivation's reading of the models: the same
fields, the same required ones, and per field the same types, lengths, bounds and
literal values. The only differences allowed are the deliberate ones, each named here.
"""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from schemas.events import NUL_FREE, Envelope, EventData
from schemas.registry import REGISTRY
from schemas.struct_codec import StructDecoder
from schemas.structs import LARGEST_DOUBLE, NotDerivable, struct_of

MODELS: list[type[Envelope]] = [version.model for version in REGISTRY.versions.values()]


def _resolve(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        found: dict[str, Any] = defs[schema["$ref"].rsplit("/", 1)[1]]
        return found
    return schema


def normalized(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """A field's schema with what only names or documents it dropped, recursively."""
    schema = _resolve(schema, defs)
    if "properties" in schema:
        return {
            "fields": {k: normalized(v, defs) for k, v in schema["properties"].items()},
            "required": sorted(schema.get("required", [])),
        }
    found = {k: v for k, v in schema.items() if k not in ("title", "default")}
    if "const" in found:
        found = {"enum": [found.pop("const")]}
    if "enum" in found:
        return {"enum": sorted(found["enum"])}
    if "anyOf" in found:
        found["anyOf"] = [normalized(option, defs) for option in found["anyOf"]]
    if "items" in found:
        found["items"] = normalized(found["items"], defs)
    return found


def model_side(schema: Any) -> Any:
    """The model's schema as the ``Struct`` reads it: text fields refuse U+0000 by the
    decoder's scan of the whole record, and a time is read as text, then parsed."""
    if isinstance(schema, dict):
        if schema.get("pattern") == NUL_FREE:
            schema = {k: v for k, v in schema.items() if k != "pattern"}
        if schema.get("format") == "date-time":
            schema = {k: v for k, v in schema.items() if k != "format"}
        return {k: model_side(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [model_side(item) for item in schema]
    return schema


def struct_side(schema: Any) -> Any:
    """The ``Struct``'s schema without the bounds that refuse ``NaN`` and infinities
    (the models refuse them with ``allow_inf_nan=False``, which JSON Schema cannot say)."""
    if isinstance(schema, dict):
        if schema.get("type") == "number":
            limits = {"minimum": -LARGEST_DOUBLE, "maximum": LARGEST_DOUBLE}
            schema = {k: v for k, v in schema.items() if limits.get(k) != v}
        return {k: struct_side(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [struct_side(item) for item in schema]
    return schema


def both_schemas(model: type[BaseModel]) -> tuple[Any, Any]:
    pydantic_schema = model.model_json_schema()
    struct_schema = msgspec.json.schema(struct_of(model))
    model_view = normalized(pydantic_schema, pydantic_schema.get("$defs", {}))
    struct_view = normalized(struct_schema, struct_schema.get("$defs", {}))
    return model_side(model_view), struct_side(struct_view)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_fields_types_and_constraints_agree(model: type[BaseModel]) -> None:
    expected, derived = both_schemas(model)
    assert derived == expected


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_released_type_is_read_by_msgspec(model: type[Envelope]) -> None:
    assert StructDecoder([model], TypeAdapter(model)).models == (model,)


def test_every_float_of_the_contract_is_finite_on_both_sides() -> None:
    for model in MODELS:
        data = model.model_fields["data"].annotation
        assert isinstance(data, type) and issubclass(data, EventData)
        assert data.model_config.get("allow_inf_nan") is False


class _Lenient(EventData):
    name: str

    @field_validator("name", mode="before")
    @classmethod
    def _anything(cls, value: Any) -> str:
        return str(value)


class _Untranslatable(EventData):
    what: Any = Field(default=None)


class _Aliased(EventData):
    name: str = Field(alias="Name")


class _EveryField(EventData):
    name: str

    @field_validator("*")
    @classmethod
    def _any(cls, value: Any) -> Any:
        return value


class _MaybeTime(EventData):
    when: AwareDatetime | None


class _Stripping(EventData):
    model_config = ConfigDict(str_strip_whitespace=True)
    name: str


@pytest.mark.parametrize(
    "model", [_Lenient, _Untranslatable, _Aliased, _EveryField, _MaybeTime, _Stripping]
)
def test_a_model_the_derivation_cannot_translate_is_left_to_pydantic(
    model: type[BaseModel],
) -> None:
    with pytest.raises(NotDerivable):
        struct_of(model)
