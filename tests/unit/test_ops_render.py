"""Untrusted bytes are shown safely: JSON pretty-printed, anything else escaped."""

from __future__ import annotations

import orjson

from consumer.ops.render import escape_text, render_bytes


def test_json_is_pretty_printed() -> None:
    shown = render_bytes(orjson.dumps({"b": [1, 2], "a": "x"}))
    assert shown.kind == "json"
    assert shown.text == '{\n  "b": [\n    1,\n    2\n  ],\n  "a": "x"\n}'


def test_json_without_layout_is_one_line() -> None:
    assert render_bytes(b'{"a": [1, 2]}', keep_layout=False).text == '{"a":[1,2]}'


def test_control_and_invisible_characters_in_json_strings_are_escaped() -> None:
    shown = render_bytes('{"a": "\\u001b[2J\u202egnp.exe"}'.encode())
    assert shown.kind == "json"
    assert "\x1b" not in shown.text and "\u202e" not in shown.text
    assert "\\u001b[2J" in shown.text and "\\u202e" in shown.text


def test_text_that_is_not_json_is_escaped_and_markup_is_kept_literal() -> None:
    shown = render_bytes(b"\x1b[31m[bold]hi[/bold]\r\x00 C:\\temp")
    assert shown.kind == "text"
    assert shown.text == "\\x1b[31m[bold]hi[/bold]\\x0d\\x00 C:\\\\temp"


def test_invalid_utf8_is_escaped_byte_by_byte() -> None:
    shown = render_bytes(b"ok \xff\xfe \\xff")
    assert shown.kind == "binary"
    assert shown.text == "ok \\xff\\xfe \\\\xff"


def test_layout_is_kept_only_when_asked() -> None:
    assert render_bytes(b"a\nb\tc").text == "a\nb\tc"
    assert render_bytes(b"a\nb\tc", keep_layout=False).text == "a\\x0ab\\x09c"
    assert escape_text("line\u2028sep") == "line\\u2028sep"


def test_a_missing_value_is_named() -> None:
    assert render_bytes(None).kind == "none"
