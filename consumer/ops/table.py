"""Rows as aligned plain-text columns, for the operator's commands (pure)."""

from __future__ import annotations

from collections.abc import Sequence


def text_table(columns: Sequence[tuple[str, int]], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned plain-text lines: each (header, widest) column is as wide as its longest
    cell, at most ``widest`` characters (longer cells end with an ellipsis)."""
    widths = [
        min(max([len(name), *(len(row[i]) for row in rows)]), widest)
        for i, (name, widest) in enumerate(columns)
    ]

    def line(cells: Sequence[str]) -> str:
        fitted = (
            c if len(c) <= w else c[: w - 1] + "…" for c, w in zip(cells, widths, strict=True)
        )
        return "  ".join(c.ljust(w) for c, w in zip(fitted, widths, strict=True)).rstrip()

    return [line([name for name, _ in columns]), *(line(row) for row in rows)]
