"""File-system arguments of the command line, and their failures as one plain line."""

from __future__ import annotations

import errno
from pathlib import Path


class FileProblem(Exception):
    """A path argument that cannot be used as given; the message says why in one line."""


def describe_os_error(exc: OSError) -> str:
    """``cannot write out/a.json: Not a directory`` rather than a connection failure."""
    reason = exc.strerror or type(exc).__name__
    if exc.filename is None:
        return f"file system: {reason}"
    target = f"{exc.filename} -> {exc.filename2}" if exc.filename2 else str(exc.filename)
    return f"file system: {target}: {reason}"


def input_file(path: Path) -> Path:
    """``path`` if it is a readable file; else a ``FileProblem`` naming what it is instead."""
    if path.is_dir():
        raise FileProblem(f"{path} is a folder, not a file: give the path of an NDJSON file")
    if not path.exists():
        raise FileProblem(f"no such file: {path}")
    if not path.is_file():
        raise FileProblem(f"{path} is not a regular file")
    return path


def output_folder(path: Path) -> Path:
    """``path`` as a folder, created with its parents; a ``FileProblem`` when it cannot be."""
    if path.exists() and not path.is_dir():
        raise FileProblem(f"{path} is a file, not a folder: give a folder to write into")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if exc.errno == errno.ENOTDIR:
            raise FileProblem(f"cannot create folder {path}: a part of the path is a file") from exc
        raise FileProblem(f"cannot create folder {path}: {exc.strerror or exc}") from exc
    return path
