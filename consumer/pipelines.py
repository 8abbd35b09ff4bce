"""The three pipelines: which topic, group, event types and writer each one uses.

The event types (and their versions) a pipeline accepts come from a registry of the
contract, by default ``schemas.registry.REGISTRY``, the released one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial

import asyncpg

from consumer.metrics.window import SampleWindow
from consumer.outcomes import Decoded, WriteResult
from consumer.settings import Settings
from consumer.writers.feedback import write_feedback
from consumer.writers.jobs import write_jobs
from consumer.writers.metrics import write_metrics
from schemas.registry import REGISTRY, Registry, StreamTypes
from schemas.topics import Stream

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
    accepts: StreamTypes
    write: Writer

    @property
    def name(self) -> str:
        return self.stream.value


def writer_of(stream: Stream, settings: Settings) -> Writer:
    """The stream's writer; the metrics writer keeps the samples of the settings' window."""
    if stream is Stream.METRICS:
        return partial(write_metrics, window=SampleWindow.of(settings.metrics))
    return WRITERS[stream]


def build_pipeline(stream: Stream, settings: Settings, registry: Registry = REGISTRY) -> Pipeline:
    return Pipeline(
        stream=stream,
        topic=settings.topics.source(stream),
        dead_letter_topic=settings.topics.dead_letter(stream),
        group=settings.ingest.group_id(stream),
        accepts=registry.accepts(stream),
        write=writer_of(stream, settings),
    )


def build_pipelines(
    settings: Settings, streams: Iterable[Stream] | None = None, registry: Registry = REGISTRY
) -> list[Pipeline]:
    return [build_pipeline(stream, settings, registry) for stream in (streams or list(Stream))]


def pipeline_for_topic(settings: Settings, topic: str, registry: Registry = REGISTRY) -> Pipeline:
    for pipeline in build_pipelines(settings, registry=registry):
        if pipeline.topic == topic:
            return pipeline
    raise KeyError(f"no pipeline consumes topic {topic!r}")
