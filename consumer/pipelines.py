"""The three pipelines: which topic, group, event types and writer each one uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import asyncpg
from pydantic import TypeAdapter

from consumer.metrics.window import SampleWindow
from consumer.outcomes import Decoded, WriteResult
from consumer.settings import Settings
from consumer.writers.feedback import write_feedback
from consumer.writers.jobs import write_jobs
from consumer.writers.metrics import write_metrics
from schemas.topics import CONTRACTS, Stream

Writer = Callable[[asyncpg.Connection, Sequence[Decoded]], Awaitable[WriteResult]]

WRITERS: dict[Stream, Writer] = {
    Stream.JOBS: write_jobs,
    Stream.FEEDBACK: write_feedback,
    Stream.METRICS: write_metrics,
}


@dataclass(frozen=True, slots=True)
class Pipeline:
    """Everything that differs between the jobs, feedback and metrics pipelines."""

    stream: Stream
    topic: str
    dead_letter_topic: str
    group: str
    adapter: TypeAdapter[Any]
    write: Writer

    @property
    def name(self) -> str:
        return self.stream.value


def writer_of(stream: Stream, settings: Settings) -> Writer:
    """The stream's writer; the metrics writer keeps the samples of the settings' window."""
    if stream is Stream.METRICS:
        return partial(write_metrics, window=SampleWindow.of(settings.metrics))
    return WRITERS[stream]


def build_pipeline(stream: Stream, settings: Settings) -> Pipeline:
    return Pipeline(
        stream=stream,
        topic=settings.topics.source(stream),
        dead_letter_topic=settings.topics.dead_letter(stream),
        group=settings.ingest.group_id(stream),
        adapter=CONTRACTS[stream].adapter,
        write=writer_of(stream, settings),
    )


def build_pipelines(settings: Settings, streams: Iterable[Stream] | None = None) -> list[Pipeline]:
    return [build_pipeline(stream, settings) for stream in (streams or list(Stream))]


def pipeline_for_topic(settings: Settings, topic: str) -> Pipeline:
    for pipeline in build_pipelines(settings):
        if pipeline.topic == topic:
            return pipeline
    raise KeyError(f"no pipeline consumes topic {topic!r}")
