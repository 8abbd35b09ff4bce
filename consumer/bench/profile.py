"""Profiling the consumer under test with pyinstrument (``utxoiq bench --profile``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def profiler_prefix(enabled: bool, base: Path) -> list[str]:
    """The command that runs the consumer under the profiler, saving ``base.pyisession``."""
    if not enabled:
        return []
    session = base.with_suffix(".pyisession")
    return [sys.executable, "-m", "pyinstrument", "-r", "pyisession", "-o", str(session)]


def render_profile(base: Path) -> list[Path]:
    """Render the saved session as text and HTML beside it; the files written."""
    session = base.with_suffix(".pyisession")
    written = []
    for renderer, suffix in (("text", ".profile.txt"), ("html", ".profile.html")):
        out = base.with_suffix(suffix)
        command = [sys.executable, "-m", "pyinstrument", f"--load={session}", "-r", renderer]
        subprocess.run([*command, "-o", str(out)], check=False, capture_output=True)
        written.append(out)
    return written
