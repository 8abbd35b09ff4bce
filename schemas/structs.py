"""msgspec ``Struct`` types derived from the pydantic models, for the consumer's hot path.

The pydantic models stay the one contract; ``struct_of`` reads a model's fields, their
constraints and its validators, and builds a ``Struct`` that accepts a subset of what the
model accepts, with the same values. What msgspec can check itself is handed to it as
``msgspec.Meta`` (lengths, patterns, bounds, finite floats as bounds at the largest
double); what it cannot is done in the ``Struct``'s ``__post_init__`` by the model's own
code: its before and after validators, its ``after`` field and model validators. Two
things are narrowed on purpose, so that msgspec refuses instead of deciding differently:

- unknown fields are refused (the pydantic decoder then keeps, counts and names them);
- a time is read as text, its fractional seconds cut to six digits (msgspec would round
  them where pydantic truncates), then parsed by msgspec and moved to UTC.

A model with anything else (another validator mode, a type not listed in ``_scalar``, a
non-strict config) raises ``NotDerivable``; its events are then decoded by pydantic alone.
"""

from __future__ import annotations

import functools
import types
import typing
from typing import Annotated, Any, Literal
from uuid import UUID

import annotated_types
import msgspec
from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from schemas.events import NUL_FREE, in_utc
from schemas.struct_steps import (
    REQUIRED,
    FieldSteps,
    Step,
    only_parses_a_time,
    post_init,
    time_parser,
)

LARGEST_DOUBLE = 1.7976931348623157e308
"""A finite float lies within +-this; ``NaN`` fails both bounds."""

_BOUNDS = {annotated_types.Ge: "ge", annotated_types.Le: "le"}
_BOUNDS |= {annotated_types.Gt: "gt", annotated_types.Lt: "lt"}
_LENGTHS = {annotated_types.MinLen: "min_length", annotated_types.MaxLen: "max_length"}

_PLAIN_CONFIG = frozenset({"extra", "strict", "frozen", "allow_inf_nan", "title"})
"""Config keys that change nothing the derivation does not translate."""


TIMES_AS_TEXT = "TIMES_AS_TEXT"
"""The class attribute naming a ``Struct``'s times left as text (``times_as_text``)."""


class NotDerivable(TypeError):
    """The model uses something the derivation does not translate."""


class _Field:
    """One field's msgspec type and the steps ``__post_init__`` runs on its value."""

    def __init__(self) -> None:
        self.meta: dict[str, Any] = {}
        self.before: list[Step] = []
        self.after: list[Step] = []
        self.is_time = False

    def take(self, metadata: typing.Iterable[Any]) -> None:
        for item in metadata:
            if isinstance(item, FieldInfo):
                self.take(item.metadata)
            elif type(item) in _BOUNDS:
                self.meta[_BOUNDS[type(item)]] = getattr(item, _BOUNDS[type(item)])
            elif type(item) in _LENGTHS:
                self.meta[_LENGTHS[type(item)]] = getattr(item, _LENGTHS[type(item)])
            elif isinstance(item, BeforeValidator):
                self.before.append(item.func)  # type: ignore[arg-type]
            elif isinstance(item, AfterValidator):
                self.after.append(item.func)  # type: ignore[arg-type]
            else:
                self._take_general(item)

    def _take_general(self, item: Any) -> None:
        """pydantic's own metadata object (``pattern``, ``allow_inf_nan``)."""
        for name, value in vars(item).items():
            if name == "pattern" and value == NUL_FREE:
                continue  # the decoder refuses every record that may hold U+0000 at all
            if name == "pattern" and value is not None:
                self.meta["pattern"] = value
            elif name == "allow_inf_nan" and value is False:
                self.meta.setdefault("ge", -LARGEST_DOUBLE)
                self.meta.setdefault("le", LARGEST_DOUBLE)
            elif value is not None:
                raise NotDerivable(f"constraint {name}={value!r}")


def _constrained(base: Any, meta: dict[str, Any]) -> Any:
    return Annotated[base, msgspec.Meta(**meta)] if meta else base


def _scalar(annotation: Any, spec: _Field, finite: bool) -> Any:
    if annotation is AwareDatetime:
        spec.is_time = True
        return str
    if annotation is float and finite:
        spec.meta.setdefault("ge", -LARGEST_DOUBLE)
        spec.meta.setdefault("le", LARGEST_DOUBLE)
    if annotation in (str, int, float, bool, UUID, type(None)):
        return _constrained(annotation, {} if annotation is type(None) else spec.meta)
    raise NotDerivable(f"type {annotation!r}")


def msgspec_type(annotation: Any, spec: _Field, finite: bool) -> Any:
    """The msgspec type of a pydantic annotation; constraints of the field are in
    ``spec`` (it gains those found inside ``annotation``)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        inner = _Field()
        inner.take(args[1:])
        if inner.before or inner.after:
            raise NotDerivable("a validator inside a type")
        return _nested(args[0], finite, inner)
    if origin in (typing.Union, types.UnionType):
        return typing.Union[tuple(_nested(arg, finite) for arg in args)]  # noqa: UP007
    if origin is Literal:
        return annotation
    if origin is list:
        return _constrained(list[_nested(args[0], finite)], spec.meta)  # type: ignore[misc]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return struct_of(annotation)
    return _scalar(annotation, spec, finite)


def _nested(annotation: Any, finite: bool, spec: _Field | None = None) -> Any:
    """The msgspec type of a type inside another (a union's member, a list's item)."""
    spec = spec or _Field()
    kind = msgspec_type(annotation, spec, finite)
    if spec.is_time:
        raise NotDerivable("a time inside another type")  # parsed only as a field's own type
    return kind


def _field_of(
    model: type[BaseModel], name: str, info: FieldInfo, finite: bool
) -> tuple[Any, list[Step]]:
    """(the field's msgspec type, the steps that make its value). With a before validator,
    msgspec reads the bare type, the validator runs, then msgspec checks the result
    against the constrained type, as pydantic validates what a before validator returns."""
    if info.alias is not None or info.validation_alias is not None:
        raise NotDerivable(f"an alias of {name}")
    spec = _Field()
    spec.take(info.metadata)
    checked = msgspec_type(info.annotation, spec, finite)
    if not spec.before:
        return checked, _field_steps(model, name, spec)
    if spec.is_time:
        raise NotDerivable(f"a before validator of the time {name}")
    check: Step = functools.partial(msgspec.convert, type=checked)
    steps = [*spec.before, check, *_field_steps(model, name, spec)]
    return msgspec_type(info.annotation, _Field(), finite), steps


def _field_steps(model: type[BaseModel], name: str, spec: _Field) -> list[Step]:
    """The time's parsing, the after validators, the field validators."""
    steps: list[Step] = []
    if spec.is_time:
        if spec.meta.keys() - {"ge", "le"}:
            raise NotDerivable(f"time constraints {sorted(spec.meta)}")
        steps.append(time_parser(spec.meta.get("ge"), spec.meta.get("le")))
    steps += [step for step in spec.after if not (spec.is_time and step is in_utc)]
    for decorator in model.__pydantic_decorators__.field_validators.values():
        if "*" in decorator.info.fields:
            raise NotDerivable(f"{model.__name__}: a validator of every field")
        if name in decorator.info.fields:
            if decorator.info.mode != "after":
                raise NotDerivable(f"{decorator.info.mode} validator of {name}")
            steps.append(decorator.func)
    return steps


def _model_checks(model: type[BaseModel]) -> list[Step]:
    found = model.__pydantic_decorators__
    if found.validators or found.root_validators or found.computed_fields:
        raise NotDerivable(f"{model.__name__}: a validator of an old style or a computed field")
    checks = []
    for decorator in found.model_validators.values():
        if decorator.info.mode != "after":
            raise NotDerivable(f"{model.__name__}: a {decorator.info.mode} model validator")
        checks.append(decorator.func)
    return checks


def _check_config(model: type[BaseModel]) -> tuple[bool, bool]:
    """(whether unknown fields are refused, whether floats must be finite)."""
    config = model.model_config
    if not config.get("strict"):
        raise NotDerivable(f"{model.__name__} is not strict")
    if config.keys() - _PLAIN_CONFIG:
        raise NotDerivable(f"{model.__name__}: config {sorted(config.keys() - _PLAIN_CONFIG)}")
    return config.get("extra") != "ignore", config.get("allow_inf_nan") is False


def struct_of(
    model: type[BaseModel], tag: str | None = None, *, times_as_text: bool = False
) -> Any:
    """The ``Struct`` derived from ``model``; with ``tag``, tagged by its ``type`` field (a
    union of events needs tags), which is then a class attribute instead of a field.
    One class for each set of arguments, however they are passed.

    ``times_as_text``: its required times without bounds of their own are left as the
    text read, for the caller to parse many at once (``parse_times``), and named in its
    ``TIMES_AS_TEXT``; not for a model with a model check, which may read them."""
    return _derived(model, tag, times_as_text)


@functools.cache
def _derived(model: type[BaseModel], tag: str | None, times_as_text: bool) -> Any:
    forbid_unknown, finite = _check_config(model)
    if tag is not None and typing.get_args(model.model_fields["type"].annotation) != (tag,):
        raise NotDerivable(f"{model.__name__}: a type other than the literal {tag!r}")
    checks = _model_checks(model)
    times_as_text = times_as_text and not checks
    fields: list[tuple[Any, ...]] = []
    stepped: list[FieldSteps] = []
    as_text: list[str] = []
    for name, info in model.model_fields.items():
        if tag is not None and name == "type":
            continue
        kind, steps = _field_of(model, name, info, finite)
        default = REQUIRED if info.is_required() else _default(info)
        if times_as_text and default is REQUIRED and only_parses_a_time(steps):
            as_text.append(name)
            steps = []
        if steps:
            stepped.append(FieldSteps(name, steps, default))
        if default is REQUIRED:
            fields.append((name, kind))
        elif steps and stepped[-1].msgspec_default is not default:
            fields.append((name, kind | msgspec.UnsetType, stepped[-1].msgspec_default))
        else:
            fields.append((name, kind, default))
    return msgspec.defstruct(
        f"{model.__name__}Struct{'TimesAsText' if as_text else ''}",
        fields,
        namespace=_namespace(model, tag, stepped, checks, as_text),
        kw_only=True,
        frozen=True,
        gc=False,
        forbid_unknown_fields=forbid_unknown,
        tag_field=None if tag is None else "type",
        tag=tag,
        module=__name__,
    )


def _namespace(
    model: type[BaseModel],
    tag: str | None,
    stepped: list[FieldSteps],
    checks: list[Step],
    as_text: list[str],
) -> dict[str, Any]:
    """The ``Struct``'s class attributes: its ``__post_init__``, the model's properties,
    its tag, the times it leaves as text."""
    namespace: dict[str, Any] = {TIMES_AS_TEXT: tuple(as_text)}
    if stepped or checks:
        namespace["__post_init__"] = post_init(stepped, checks)
    for owner in reversed(model.__mro__):
        namespace |= {k: v for k, v in vars(owner).items() if isinstance(v, property)}
    if tag is not None:
        namespace["type"] = tag
    return namespace


def _default(info: FieldInfo) -> Any:
    if info.default is PydanticUndefined or info.default_factory is not None:
        raise NotDerivable("a default that is made by a factory")
    return info.default
