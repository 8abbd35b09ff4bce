"""Names of the fields an event carried that its model does not know (tolerant reading).

The models keep unknown attributes aside (``extra="allow"``) instead of refusing them;
this walks a validated event and names each one by its path: ``traceparent`` at the
top level, ``data.region`` inside ``data``, ``data.metric.scale`` in a nested object.
Below an unknown field nothing is named: all of it is unknown.
"""

from __future__ import annotations

import functools
import types
import typing
from typing import Any

from pydantic import BaseModel


def unknown_fields(model: BaseModel, prefix: str = "") -> list[str]:
    """The dotted paths of the unknown fields of ``model`` and of the models it holds."""
    extra = model.__pydantic_extra__
    names = [prefix + name for name in extra] if extra else []
    for field in nested_fields(type(model)):
        value = getattr(model, field)
        if isinstance(value, BaseModel):
            if value.__pydantic_extra__ or nested_fields(type(value)):
                names += unknown_fields(value, f"{prefix}{field}.")
        elif isinstance(value, list | tuple):
            for item in value:
                if isinstance(item, BaseModel):
                    names += unknown_fields(item, f"{prefix}{field}[].")
    return names


@functools.cache
def nested_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of ``model`` whose values may hold models of their own."""
    return tuple(name for name, info in model.model_fields.items() if _holds_model(info.annotation))


def _holds_model(annotation: Any) -> bool:
    if isinstance(annotation, type) and not isinstance(annotation, types.GenericAlias):
        return issubclass(annotation, BaseModel)
    return any(_holds_model(arg) for arg in typing.get_args(annotation))
