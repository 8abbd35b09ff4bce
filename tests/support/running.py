"""Running the service in the test process or as a real ``utxoiq consume`` subprocess."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path

from consumer.service import IngestService
from consumer.settings import Settings
from schemas.registry import REGISTRY, Registry
from schemas.topics import Stream
from tests.support.services import REPO
from tests.support.waiting import wait_until


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment variables that reproduce ``settings`` in a subprocess."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
        "DATABASE_URL": settings.database.url.get_secret_value(),
        "UTXOIQ_TOPIC_JOBS": settings.topics.jobs,
        "UTXOIQ_TOPIC_FEEDBACK": settings.topics.feedback,
        "UTXOIQ_TOPIC_METRICS": settings.topics.metrics,
    }
    for name, value in settings.ingest.model_dump().items():
        env[f"UTXOIQ_{name.upper()}"] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    return env


@contextlib.asynccontextmanager
async def running_service(
    settings: Settings,
    streams: Iterable[Stream] | None = None,
    *,
    wait_assigned: bool = True,
    registry: Registry = REGISTRY,
) -> AsyncIterator[IngestService]:
    """An in-process service accepting the types ``registry`` lists; on exit it is stopped
    as SIGTERM would stop it."""
    service = IngestService(settings, streams, registry=registry)
    stop = asyncio.Event()
    task = asyncio.create_task(service.run(stop))
    try:
        if wait_assigned:

            async def assigned() -> bool:
                if task.done():
                    task.result()
                statuses = service.statuses()
                return bool(statuses) and all(s.positions and s.positioned for s in statuses)

            await wait_until(assigned, within=60, what="partitions assigned and positioned")
        yield service
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=60)


class ConsumerProcess:
    """``utxoiq consume`` as a child process, for kill -9 and signal tests."""

    def __init__(self, settings: Settings, *args: str, log_path: Path | None = None) -> None:
        self.env = {**os.environ, **settings_env(settings)}
        self.args = args
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ConsumerProcess:
        with open(self.log_path or os.devnull, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "consumer.cli.main", "consume", *self.args],
                env=self.env,
                cwd=REPO,
                stdout=log,
                stderr=log,
            )
        return self

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(timeout=30)

    def terminate(self, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


async def run_utxoiq(
    settings: Settings, *args: str, within: float = 60, env: Mapping[str, str] | None = None
) -> tuple[int, str, str]:
    """Run the ``utxoiq`` command with the environment that reproduces ``settings``
    (and ``env`` over it)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "consumer.cli.main",
        *args,
        env={**os.environ, **settings_env(settings), **(env or {})},
        cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), within)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
