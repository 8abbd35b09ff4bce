"""What the benchmark ran on: hardware, load, versions and the code's commit."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

PACKAGES = ("aiokafka", "asyncpg", "pydantic", "pydantic-core", "orjson", "uvloop", "psutil")
REPO = Path(__file__).resolve().parents[2]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit() -> dict[str, Any]:
    """The commit of the code that ran, and whether the working tree differed from it."""

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10, check=True
        )
        return done.stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


def kafka_version() -> str | None:
    """The broker version when it runs from the local stack's jars; else unknown."""
    libs = REPO / ".stack" / "kafka" / "libs"
    for jar in sorted(libs.glob("kafka_2.13-*.jar")) if libs.is_dir() else ():
        return jar.name.removeprefix("kafka_2.13-").removesuffix(".jar")
    return None


def describe(postgres: dict[str, str]) -> dict[str, Any]:
    """The machine description stored with every run."""
    memory = psutil.virtual_memory()
    return {
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_bytes": memory.total,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "kafka": kafka_version(),
        "postgresql": postgres,
        "git": git_commit(),
    }
