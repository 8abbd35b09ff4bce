"""Showing untrusted bytes safely: JSON pretty-printed, anything else escaped (pure).

Control characters (terminal escape sequences included), invisible format characters
(such as bidirectional overrides) and bytes that are not UTF-8 are written as ``\\xNN`` or
``\\uNNNN``; a backslash in text that is not JSON is doubled so escapes stay unambiguous.
Callers print the result as plain text, never as console markup.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

import orjson

Kind = Literal["json", "text", "binary", "none"]
_KEPT = frozenset("\n\t")


@dataclass(frozen=True, slots=True)
class Rendered:
    kind: Kind
    text: str


def _escape_char(char: str) -> str:
    code = ord(char)
    return (
        f"\\x{code:02x}"
        if code < 0x100
        else f"\\u{code:04x}"
        if code < 0x10000
        else f"\\U{code:08x}"
    )


def _unsafe(char: str, keep_layout: bool) -> bool:
    if keep_layout and char in _KEPT:
        return False
    return unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp")


def escape_text(text: str, *, keep_layout: bool = False) -> str:
    """``text`` with every non-printing character escaped (newlines and tabs kept when
    ``keep_layout``)."""
    return "".join(_escape_char(c) if _unsafe(c, keep_layout) else c for c in text)


def render_bytes(value: bytes | None, *, keep_layout: bool = True) -> Rendered:
    """JSON pretty-printed (compact without ``keep_layout``); UTF-8 text escaped; other
    bytes escaped byte by byte."""
    if value is None:
        return Rendered("none", "<no value>")
    try:
        parsed = orjson.loads(value)
    except orjson.JSONDecodeError:
        pass
    else:
        option = orjson.OPT_INDENT_2 if keep_layout else 0
        text = orjson.dumps(parsed, option=option).decode()
        return Rendered("json", escape_text(text, keep_layout=keep_layout))
    doubled = value.replace(b"\\", b"\\\\")
    kind: Kind = "text"
    try:
        text = doubled.decode("utf-8")
    except UnicodeDecodeError:
        text, kind = doubled.decode("utf-8", "backslashreplace"), "binary"
    return Rendered(kind, escape_text(text, keep_layout=keep_layout))
