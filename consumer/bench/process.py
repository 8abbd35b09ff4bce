"""The consumer under test: ``utxoiq consume --pipeline P`` as a child process.

Running the real service in its own process lets its CPU time and resident memory be
measured (psutil, sampled every 50 ms; the peak also from the kernel's high-water mark),
and its own JSON log gives the timing of every committed batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import psutil

from consumer.bench.stats import interpolate

SAMPLE_INTERVAL_S = 0.05
POSITIONED = "resuming from stored positions"
COMMITTED = "batch committed"


class ConsumerFailed(Exception):
    """The consumer process exited or stalled; the message ends with its last log lines."""


@dataclass(frozen=True, slots=True)
class LogEvent:
    at: float
    message: str
    fields: dict[str, Any]


def parse_log_line(line: bytes) -> LogEvent | None:
    """One JSON log line of the service; None for anything else."""
    try:
        entry = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(entry, dict) or "ts" not in entry or "msg" not in entry:
        return None
    at = datetime.fromisoformat(str(entry["ts"])).timestamp()
    return LogEvent(at, str(entry["msg"]), entry)


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    rss: int
    cpu: float


class ConsumerProcess:
    """Starts the service for one pipeline, samples it, and reads its log."""

    def __init__(
        self, pipeline: str, env: Mapping[str, str], log_path: Path, prefix: Sequence[str] = ()
    ) -> None:
        self.pipeline = pipeline
        self.env = dict(env)
        self.log_path = log_path
        self.command = [*(prefix or [sys.executable]), "-m", "consumer.cli.main"]
        self.command += ["consume", "--pipeline", pipeline]
        self.samples: list[Sample] = []
        self.events: list[LogEvent] = []
        self.peak_rss = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._ps: psutil.Process | None = None
        self._sampler: asyncio.Task[None] | None = None
        self._read_at = 0

    def start(self) -> None:
        """Start the process and its sampler (call from the running event loop)."""
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        self._ps = psutil.Process(self._proc.pid)
        self._sampler = asyncio.create_task(self._sample_forever())

    async def _sample_forever(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(SAMPLE_INTERVAL_S)

    def sample(self) -> None:
        if self._ps is None:
            return
        with contextlib.suppress(psutil.Error):
            with self._ps.oneshot():
                cpu = self._ps.cpu_times()
                rss = self._ps.memory_info().rss
            self.samples.append(Sample(time.time(), rss, cpu.user + cpu.system))
            self.peak_rss = max(self.peak_rss, rss, self._high_water_mark())

    def _high_water_mark(self) -> int:
        """VmHWM: the kernel's own peak resident size of the process (Linux)."""
        if self._proc is None:
            return 0
        try:
            status = Path(f"/proc/{self._proc.pid}/status").read_text()
        except OSError:
            return 0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def cpu_series(self) -> list[tuple[float, float]]:
        return [(s.at, s.cpu) for s in self.samples]

    def read_log(self) -> list[LogEvent]:
        """Parse what the process logged since the last call; return the new events."""
        with self.log_path.open("rb") as log:
            log.seek(self._read_at)
            data = log.read()
        complete = data.rfind(b"\n") + 1
        self._read_at += complete
        new = [e for e in map(parse_log_line, data[:complete].splitlines()) if e is not None]
        self.events.extend(new)
        return new

    def batches(self, since: float = 0.0) -> list[LogEvent]:
        return [e for e in self.events if e.message == COMMITTED and e.at >= since]

    def first_logged(self, message: str) -> LogEvent | None:
        """The first event with ``message`` read from the log so far, if any."""
        return next((e for e in self.events if e.message == message), None)

    def log_tail(self, lines: int = 8) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(text[-lines:])

    def check_alive(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            raise ConsumerFailed(
                f"the {self.pipeline} consumer exited with code {self._proc.returncode}; "
                f"its log ({self.log_path}) ends with:\n{self.log_tail()}"
            )

    async def stop(self, within: float = 60.0) -> int | None:
        """SIGTERM (a graceful stop), then SIGKILL if it has not exited ``within`` seconds."""
        if self._sampler is not None:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        self.sample()
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return None if proc is None else proc.returncode
        proc.send_signal(signal.SIGTERM)
        try:
            return await asyncio.to_thread(proc.wait, within)
        except subprocess.TimeoutExpired:
            proc.kill()
            return await asyncio.to_thread(proc.wait)


class ConsumerGroup:
    """The members of one consumer group under test (``--members``), read as one consumer:
    alive while every member is, its batches and CPU time the members' together, its peak
    memory the largest member's."""

    def __init__(self, members: Sequence[ConsumerProcess]) -> None:
        if not members:
            raise ValueError("a group needs at least one member")
        self.members = list(members)
        self.pipeline = self.members[0].pipeline

    def start(self) -> None:
        for member in self.members:
            member.start()

    def check_alive(self) -> None:
        for member in self.members:
            member.check_alive()

    def sample(self) -> None:
        for member in self.members:
            member.sample()

    def read_log(self) -> list[LogEvent]:
        return [event for member in self.members for event in member.read_log()]

    def batches(self, since: float = 0.0) -> list[LogEvent]:
        merged = [batch for member in self.members for batch in member.batches(since)]
        return sorted(merged, key=lambda event: event.at)

    def cpu_between(self, first: float, last: float) -> float:
        """CPU seconds the members spent between two wall-clock times."""
        total = 0.0
        for member in self.members:
            series = member.cpu_series()
            if series:
                total += interpolate(series, last) - interpolate(series, first)
        return total

    @property
    def peak_rss(self) -> int:
        return max(member.peak_rss for member in self.members)

    def log_tail(self, lines: int = 8) -> str:
        if len(self.members) == 1:
            return self.members[0].log_tail(lines)
        return "\n".join(
            f"-- {member.log_path}:\n{member.log_tail(lines)}" for member in self.members
        )

    async def wait_for(self, message: str, within: float) -> LogEvent:
        """The first member's first log event with ``message`` (waiting up to ``within``)."""
        deadline = time.monotonic() + within
        while True:
            self.read_log()
            found = [e for m in self.members if (e := m.first_logged(message)) is not None]
            if found:
                return min(found, key=lambda event: event.at)
            self.check_alive()
            if time.monotonic() > deadline:
                raise ConsumerFailed(
                    f"the {self.pipeline} consumer did not log {message!r} within {within:.0f} s; "
                    f"its log ends with:\n{self.log_tail()}"
                )
            await asyncio.sleep(0.01)

    def whole_at(self, message: str) -> float | None:
        """When the group was whole: the latest of each member's first ``message`` line
        (None while some member has not logged one)."""
        self.read_log()
        firsts = [member.first_logged(message) for member in self.members]
        if any(first is None for first in firsts):
            return None
        return max(first.at for first in firsts if first is not None)

    async def stop(self, within: float = 60.0) -> None:
        await asyncio.gather(*(member.stop(within) for member in self.members))
