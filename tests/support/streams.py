"""Realistic mixed event streams for the end-to-end tests, with their expected model."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

from tests.support import events as ev
from tests.support.model import Model


@dataclass
class Stream:
    jobs: list[dict[str, Any]] = field(default_factory=list)
    feedback: list[dict[str, Any]] = field(default_factory=list)
    metrics: list[dict[str, Any]] = field(default_factory=list)

    def model(self) -> Model:
        model = Model()
        for event in self.jobs + self.feedback + self.metrics:
            model.apply(event)
        return model

    def __len__(self) -> int:
        return len(self.jobs) + len(self.feedback) + len(self.metrics)


def mixed_stream(rng: random.Random, *, jobs: int, feedback: int, metrics: int) -> Stream:
    """Jobs with many progress events each, repeated feedback pairs, duplicate metrics."""
    stream = Stream()
    for _ in range(jobs):
        job_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        end = rng.randint(100, 10_000)
        seq = 0
        stream.jobs.append(ev.job_created(job_id, start=0, end=end, sequence=seq))
        for block in sorted(rng.sample(range(end + 1), rng.randint(1, 12))):
            seq += rng.randint(1, 3)
            stream.jobs.append(ev.job_progress(job_id, block, seq))
        roll = rng.random()
        if roll < 0.4:
            stream.jobs.append(ev.job_completed(job_id, seq + 1))
        elif roll < 0.55:
            stream.jobs.append(ev.job_failed(job_id, seq + 1, f"rpc timeout {rng.randint(1, 9)}"))
    for _ in range(feedback):
        insight, user = f"insight-{rng.randint(1, 40)}", f"user-{rng.randint(1, 25)}"
        flags = rng.sample(
            ["inaccurate", "misleading", "outdated", "spam", "offensive", "other"],
            rng.randint(0, 2),
        )
        comment = rng.choice([None, "useful", "wrong fee estimate"])
        stream.feedback.append(
            ev.feedback(
                insight,
                user,
                rng.randint(1, 5),
                at=ev.at(rng.randint(0, 5_000)),
                comment=comment,
                flags=flags,
            )
        )
    services = [f"svc-{i}" for i in range(12)]
    for _ in range(metrics):
        event = ev.metric(
            rng.choice(services),
            rng.choice(["latency", "cpu", "queue"]),
            round(rng.uniform(0, 500), 3),
            at=ev.at(rng.randint(0, 3 * 86_400)),
        )
        stream.metrics.append(event)
        if rng.random() < 0.02:
            stream.metrics.append(event)  # a producer retry: the same event twice
    return stream
