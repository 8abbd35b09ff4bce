"""What one benchmark run shares: its options, the database pool and console, the
consumer processes under test and the publishing of a workload."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from consumer.bench.kafka import Sender
from consumer.bench.process import ConsumerGroup, ConsumerProcess
from consumer.bench.profile import profiler_prefix
from consumer.bench.workload import EventFactory, Shape, generate
from consumer.settings import Settings, TopicSettings
from schemas.topics import Stream


@dataclass(slots=True)
class BenchOptions:
    """What to run; every field has a command-line option."""

    events: dict[Stream, int]
    pipelines: list[Stream]
    output: Path
    skip_latency: bool = False
    load_fraction: float = 0.5
    load_seconds: float = 15.0
    naive_events: int = 5_000
    keep_topics: bool = False
    profile: bool = False
    seed: int = 7
    members: int = 1
    repeat: int = 3
    preload: int = 0
    """Rows stored before the drains of metrics and feedback (``consumer.bench.preload``)."""
    shape: Shape = field(default_factory=Shape)


@dataclass(slots=True)
class Workspace:
    """What every pipeline of one run shares."""

    settings: Settings
    options: BenchOptions
    run_id: str
    pool: asyncpg.Pool
    console: Console

    def settings_for(self, stream: Stream, repetition: int = 1) -> Settings:
        """The run's settings for ``stream``: its own topic, and a consumer group of its
        own for each repetition of the drain."""
        prefix = self.run_id if repetition == 1 else f"{self.run_id}-r{repetition}"
        return self.settings_with(stream, f"{self.run_id}.{stream.value}", prefix)

    def settings_with(self, stream: Stream, topic: str, group_prefix: str) -> Settings:
        """The run's settings with ``topic`` for ``stream`` and consumer groups named
        from ``group_prefix``."""
        settings = self.settings
        topics = TopicSettings.model_validate({**settings.topics.model_dump(), stream.value: topic})
        ingest = settings.ingest.model_copy(update={"group_prefix": group_prefix})
        return Settings(settings.kafka, settings.database, topics, ingest, settings.metrics)

    def child_env(self, settings: Settings, stream: Stream) -> dict[str, str]:
        return {
            **os.environ,
            "DATABASE_URL": settings.database.url.get_secret_value(),
            "KAFKA_BOOTSTRAP_SERVERS": settings.kafka.bootstrap_servers,
            f"UTXOIQ_TOPIC_{stream.value.upper()}": settings.topics.source(stream),
            "UTXOIQ_GROUP_PREFIX": settings.ingest.group_prefix,
            "UTXOIQ_HTTP_PORT": "off",
            "UTXOIQ_LOG_FORMAT": "json",
            "UTXOIQ_LOG_LEVEL": "INFO",
        }

    def progress(self) -> Progress:
        return Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            disable=not self.console.is_terminal,
        )

    def say(self, text: str) -> None:
        self.console.print(text, highlight=False, markup=False)

    def repetitions(self) -> list[str]:
        """A label per repetition of a measurement: " (2/3)", or nothing when there is one."""
        count = self.options.repeat
        return [""] if count == 1 else [f" ({i}/{count})" for i in range(1, count + 1)]


async def publish(
    space: Workspace, sender: Sender, factory: EventFactory, count: int, name: str
) -> list[bytes]:
    """Publish ``count`` events and wait for every acknowledgement; their values."""
    values: list[bytes] = []
    with space.progress() as progress:
        task = progress.add_task(f"{name}: publishing", total=count)
        for chunk in generate(factory, count):
            pending = await sender.send(chunk, time.time())
            await pending.spans()
            values.extend(value for _, value in chunk)
            progress.advance(task, len(chunk))
    return values


def consumer_group(
    space: Workspace, pipeline: str, env: dict[str, str], bases: list[Path]
) -> ConsumerGroup:
    """Fresh consumer processes of one repetition, one per log base."""
    return ConsumerGroup(
        [
            ConsumerProcess(
                pipeline,
                env,
                base.with_suffix(".log"),
                profiler_prefix(space.options.profile, base),
            )
            for base in bases
        ]
    )


def log_bases(space: Workspace, name: str, repetition: int) -> list[Path]:
    """Where each member's log goes: ``<run>-<pipeline>[-r<repetition>][-<member>]``."""
    again = "" if repetition == 1 else f"-r{repetition}"
    return [
        space.options.output / f"{space.run_id}-{name}{again}{'' if i == 0 else f'-{i + 1}'}"
        for i in range(space.options.members)
    ]
