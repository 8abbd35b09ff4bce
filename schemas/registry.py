"""The registry of the contract: which event types, in which versions, each stream carries.

A change old consumers cannot read gets a new ``type`` (``...recorded.v2``, say). Each
version is registered with its model and, unless it is the version the writers take,
an ``upgrade`` that maps it onto that version, so every version of one kind lands in
the same row. A pipeline accepts exactly the types its stream lists here; an event of
any other type is refused at ``validate`` with its type named.

``REGISTRY`` is the released contract. Another registry (a consumer that learns a new
version before the producers move, or a test) is built with ``with_versions``:

    registry = REGISTRY.with_versions(Stream.METRICS, EventVersion(MetricRecordedV2, to_v1))
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import Field, TypeAdapter

from schemas.events import (
    Envelope,
    FeedbackSubmitted,
    JobCompleted,
    JobCreated,
    JobFailed,
    JobProgress,
    MetricRecorded,
    event_type_of,
)
from schemas.streams import Stream

SCHEMA_BASE = "https://utxoiq.dev/schemas/"
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

Upgrade = Callable[[Any], Envelope]
"""Maps an event of one version onto the version the pipeline's writer takes."""


def schema_id(event_type: str) -> str:
    """The ``$id`` of a type's JSON Schema, which its events may carry as ``dataschema``."""
    return f"{SCHEMA_BASE}{event_type}.schema.json"


@dataclass(frozen=True, slots=True)
class EventVersion:
    """One version of one kind of event.

    Its model derives from ``schemas.events.Envelope``, and its ``data`` (and every
    object nested in it) from ``schemas.events.EventData``, so it reads unknown fields
    tolerantly and refuses non-finite floats like every other version."""

    model: type[Envelope]
    upgrade: Upgrade | None = None
    """To the version the writers take; ``None`` when this is that version."""

    @property
    def type(self) -> str:
        return event_type_of(self.model)

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema of this type, with its ``$id``."""
        schema = self.model.model_json_schema()
        schema["$id"] = schema_id(self.type)
        schema["$schema"] = JSON_SCHEMA_DIALECT
        return schema


def discriminated(models: Sequence[type[Envelope]]) -> TypeAdapter[Any]:
    """One adapter that validates any of ``models``, chosen by the event's ``type``.

    A single model is validated as itself: a union, even of one, parses the JSON into
    values first and then validates them, about twice the work."""
    if len(models) == 1:
        return TypeAdapter(models[0])
    union: Any = functools.reduce(operator.or_, models)
    return TypeAdapter(Annotated[union, Field(discriminator="type")])


@dataclass(frozen=True)
class StreamTypes:
    """The versions one stream accepts, and how to read them."""

    stream: Stream
    versions: tuple[EventVersion, ...]
    adapter: TypeAdapter[Any] = field(init=False, repr=False, compare=False)
    upgrades: Mapping[type[Envelope], Upgrade] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "adapter", discriminated([v.model for v in self.versions]))
        upgrades = {v.model: v.upgrade for v in self.versions if v.upgrade is not None}
        object.__setattr__(self, "upgrades", upgrades)

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(v.type for v in self.versions)

    def current(self, event: Any) -> Any:
        """``event`` as the version the writers take (itself when it is that version)."""
        upgrade = self.upgrades.get(type(event))
        return event if upgrade is None else upgrade(event)


class Registry:
    """Every event type of the contract, by stream, in every accepted version."""

    def __init__(self, streams: Mapping[Stream, Iterable[EventVersion]]) -> None:
        self.streams = {stream: StreamTypes(stream, tuple(streams[stream])) for stream in Stream}
        self.versions = {v.type: v for s in self.streams.values() for v in s.versions}
        self._stream_of = {v.type: s.stream for s in self.streams.values() for v in s.versions}
        if len(self.versions) != sum(len(s.versions) for s in self.streams.values()):
            raise ValueError("an event type is registered twice")
        self.adapter = discriminated([v.model for v in self.versions.values()])
        """Validates an event of any registered type (what a producer may publish)."""

    def accepts(self, stream: Stream) -> StreamTypes:
        return self.streams[stream]

    @property
    def types(self) -> tuple[str, ...]:
        return tuple(self.versions)

    def stream_of(self, event_type: str) -> Stream:
        """The stream that carries ``event_type``; ``KeyError`` when none does."""
        return self._stream_of[event_type]

    def with_versions(self, stream: Stream, *versions: EventVersion) -> Registry:
        """A registry that also accepts ``versions`` on ``stream``."""
        return Registry(
            {s: (*t.versions, *(versions if s is stream else ())) for s, t in self.streams.items()}
        )

    def json_schemas(self) -> dict[str, dict[str, Any]]:
        """Each type's JSON Schema (with its ``$id``), by type."""
        return {name: version.json_schema() for name, version in self.versions.items()}


REGISTRY = Registry(
    {
        Stream.JOBS: (
            EventVersion(JobCreated),
            EventVersion(JobProgress),
            EventVersion(JobCompleted),
            EventVersion(JobFailed),
        ),
        Stream.FEEDBACK: (EventVersion(FeedbackSubmitted),),
        Stream.METRICS: (EventVersion(MetricRecorded),),
    }
)
"""The released contract: the six types of ARCHITECTURE.md, each in its first version."""
