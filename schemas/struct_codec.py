"""The hot path's decoder: msgspec first, the pydantic decoder whenever msgspec refuses.

``StructDecoder.read`` decodes a record value into the ``Struct`` derived from its event
type (``schemas.structs``) or returns ``None``: it never refuses a record itself. Every
value it does not vouch for, valid or not, goes to ``schemas.codec.decode``, whose
verdict and message are the ones used. So ``decode_fast`` returns what
``schemas.codec.decode`` returns (as a ``Struct`` with the same fields and values, or the
pydantic event itself) and raises what it raises; a property test holds the two equal.

What falls to pydantic: anything invalid, an event with an unknown field (pydantic keeps,
counts and names it), a type msgspec has no ``Struct`` for (a version with an upgrade, a
model ``schemas.structs`` cannot translate), and any value holding the escape ``\u0000``
anywhere (its refusal in text fields is left to pydantic, which saves a pattern match per
text field; a raw U+0000 is not JSON, and msgspec refuses it like any control character).
"""

from __future__ import annotations

import collections
import functools
import itertools
import operator
import typing
from typing import Any

import msgspec
from pydantic import TypeAdapter

from schemas.codec import DEFAULT_MAX_EVENT_BYTES, decode
from schemas.events import Envelope, event_type_of
from schemas.registry import StreamTypes
from schemas.struct_steps import parse_times
from schemas.structs import TIMES_AS_TEXT, struct_of

_BACKSLASH = ord("\\")
"""Searched for as a byte value: ``int in bytes`` is one ``memchr``, several times faster
than a search for a bytes needle, even of one byte."""
_NUL_ESCAPE = b"\\u0000"
_set_field = msgspec.structs.force_setattr


def derivable(model: type[Envelope]) -> bool:
    """Whether ``schemas.structs`` translates ``model`` (msgspec's own refusal of a type or
    a default is a ``TypeError`` too)."""
    try:
        struct_of(model)
    except TypeError:
        return False
    return True


def event_struct_type(models: typing.Sequence[type[Envelope]], times_as_text: bool = False) -> Any:
    """The msgspec type of an event of any of ``models``: one ``Struct`` (whose ``type``
    is a field checked as a literal), or a union of ``Struct``s tagged by ``type``."""
    if len(models) == 1:
        return struct_of(models[0], times_as_text=times_as_text)
    tagged = [
        struct_of(model, event_type_of(model), times_as_text=times_as_text) for model in models
    ]
    return typing.Union[tuple(tagged)]  # noqa: UP007


def times_read_as_text(struct_type: Any) -> tuple[str, ...]:
    """The times every ``Struct`` of ``struct_type`` leaves as text (``struct_of``), the
    same in each; none when they differ."""
    structs = typing.get_args(struct_type) or (struct_type,)
    names = {getattr(struct, TIMES_AS_TEXT) for struct in structs}
    return names.pop() if len(names) == 1 else ()


class StructDecoder:
    """Reads the events of the given types with msgspec; anything else is left to the
    pydantic decoder (``adapter``)."""

    def __init__(self, models: typing.Sequence[type[Envelope]], adapter: TypeAdapter[Any]) -> None:
        self.models = tuple(model for model in models if derivable(model))
        """The types it reads; records of any other go to the pydantic decoder."""
        self.adapter = adapter
        self._decode = (
            msgspec.json.Decoder(event_struct_type(self.models)).decode if self.models else None
        )
        self._slice_decode = self._decode
        self._slice_times: tuple[str, ...] = ()
        """How ``read_all`` reads a slice: with ``Struct``s that leave these times as text
        when every event type has them, else as ``read`` does."""
        if self.models:
            with_text = event_struct_type(self.models, times_as_text=True)
            if times := times_read_as_text(with_text):
                self._slice_decode = msgspec.json.Decoder(with_text).decode
                self._slice_times = times

    def read(self, value: bytes) -> Any | None:
        """The event as a ``Struct``, or ``None`` when msgspec does not vouch for it."""
        if self._decode is None or (_BACKSLASH in value and _NUL_ESCAPE in value):
            return None
        try:
            return self._decode(value)
        except Exception:  # any refusal, of whatever kind: the pydantic decoder decides
            return None

    def read_all(self, values: list[bytes], max_bytes: int) -> list[Any] | None:
        """Every value as a ``Struct``, in one pass of C calls (no Python per value beyond
        the ``Struct``'s ``__post_init__``; the times parsed together, ``parse_times``): the
        ``Struct``s ``read`` gives one by one. ``None`` when any value is missing, longer
        than ``max_bytes``, holds a backslash and the escape ``\\u0000``, or is refused,
        so that the caller reads them one by one with ``read`` instead. The values are
        searched for both together, joined by a byte that no escape spans."""
        if self._decode is None or not values:
            return None
        try:
            if max(map(len, values)) > max_bytes:
                return None
            joined = b"\n".join(values)
            if _BACKSLASH in joined and _NUL_ESCAPE in joined:
                return None
            events = list(map(self._slice_decode, values))  # type: ignore[arg-type]
            for name in self._slice_times:  # parsed together, set in place
                moments = parse_times(list(map(operator.attrgetter(name), events)))
                collections.deque(map(_set_field, events, itertools.repeat(name), moments), 0)
            return events
        except Exception:  # a missing value, or any refusal: one by one
            return None

    def decode(self, value: bytes | None, *, max_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> Any:
        """``schemas.codec.decode(value, adapter, max_bytes=max_bytes)``, msgspec first: the
        same event (a ``Struct`` when msgspec read it) or the same ``EventRejected``."""
        if value is not None and len(value) <= max_bytes:
            event = self.read(value)
            if event is not None:
                return event
        return decode(value, self.adapter, max_bytes=max_bytes)


@functools.cache
def struct_decoder(accepts: StreamTypes) -> StructDecoder:
    """The decoder of a stream: msgspec reads the types the writers take as they are (those
    without an upgrade). Look it up once per batch, not per record: the lookup hashes
    ``accepts``, which costs about as much as a decode."""
    return StructDecoder([v.model for v in accepts.versions if v.upgrade is None], accepts.adapter)


def decode_fast(
    value: bytes | None, accepts: StreamTypes, *, max_bytes: int = DEFAULT_MAX_EVENT_BYTES
) -> Any:
    """``schemas.codec.decode(value, accepts.adapter, max_bytes=max_bytes)``, with msgspec
    first (``struct_decoder(accepts).decode``)."""
    return struct_decoder(accepts).decode(value, max_bytes=max_bytes)
