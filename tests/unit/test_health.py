"""Liveness measures progress, not only that the process is up."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from aiokafka import TopicPartition as KafkaTopicPartition

from consumer.coordinates import TopicPartition
from consumer.health import ProgressWatch, liveness, partition_lag

STALL_S = 60.0
PAUSED_STALL_S = 300.0
TOPIC = "t"


@dataclass
class ConsumerView:
    """The two read-only views of a consumer that liveness looks at."""

    high: dict[int, int]
    paused_partitions: set[int] = field(default_factory=set)

    def highwater(self, tp: KafkaTopicPartition) -> int | None:
        return self.high.get(tp.partition)

    def paused(self) -> set[KafkaTopicPartition]:
        return {KafkaTopicPartition(TOPIC, p) for p in self.paused_partitions}


def runner(
    *, silent_s: float = 0, high: int = 10, paused: bool = False, breaker_open: bool = False
) -> Any:
    return SimpleNamespace(
        pipeline=SimpleNamespace(name="jobs", topic=TOPIC),
        loop_heartbeat=time.monotonic() - silent_s,
        positions={TopicPartition(TOPIC, 0): 10, TopicPartition(TOPIC, 1): None},
        unpositioned=set(),
        breaker_open=breaker_open,
        _consumer=ConsumerView({0: high, 1: 99}, {0} if paused else set()),
    )


def service(*runners: Any) -> Any:
    ingest = SimpleNamespace(health_stall_s=STALL_S, health_paused_stall_s=PAUSED_STALL_S)
    return SimpleNamespace(runners=list(runners), settings=SimpleNamespace(ingest=ingest))


def probes(
    one: Any, *, high_later: int, paused: bool = False, at: tuple[float, ...] = ()
) -> list[bool]:
    """Liveness at t and then at t + each of ``at`` (default: stall/2 and 2 stall), the high
    watermark moved to high_later."""
    watch, now = ProgressWatch(), time.monotonic()
    answers = [liveness(service(one), watch, now).ok]
    one._consumer = ConsumerView({0: high_later, 1: 99}, {0} if paused else set())
    for later in at or (STALL_S / 2, 2 * STALL_S):
        one.loop_heartbeat = now + later
        answers.append(liveness(service(one), watch, now + later).ok)
    return answers


def test_lag_is_high_watermark_minus_stored_position() -> None:
    assert partition_lag(runner(high=25)) == {0: 15}


def test_new_records_not_consumed_for_the_stall_window_is_dead() -> None:
    assert probes(runner(), high_later=500) == [True, True, False]


def test_idle_with_a_tail_of_control_records_is_alive() -> None:
    assert probes(runner(high=11), high_later=11) == [True, True, True]


def test_backlog_while_paused_for_retries_is_alive_until_the_paused_bound() -> None:
    """A short outage is a readiness matter; a retry that never ends fails liveness."""
    later = (STALL_S / 2, 2 * STALL_S, PAUSED_STALL_S + 1)
    assert probes(runner(), high_later=500, paused=True, at=later) == [True, True, True, False]


def test_backlog_behind_an_open_breaker_fails_after_the_paused_bound() -> None:
    later = (2 * STALL_S, PAUSED_STALL_S + 1)
    assert probes(runner(breaker_open=True), high_later=500, at=later) == [True, True, False]


def test_silent_loop_is_dead() -> None:
    verdict = liveness(service(runner(silent_s=2 * STALL_S)), ProgressWatch())
    assert not verdict.ok
    assert "silent" in verdict.checks["jobs"]


def test_starting_service_is_alive() -> None:
    assert liveness(service(), ProgressWatch()).ok


def test_partitions_never_positioned_fail_after_the_paused_bound() -> None:
    """Reading the stored positions retried for ever is a stall too."""
    one, watch, now = runner(), ProgressWatch(), time.monotonic()
    one.unpositioned = {TopicPartition(TOPIC, 0)}
    assert liveness(service(one), watch, now).ok
    one.loop_heartbeat = now + PAUSED_STALL_S + 1
    verdict = liveness(service(one), watch, now + PAUSED_STALL_S + 1)
    assert not verdict.ok
    assert "not positioned" in verdict.checks["jobs"]
    one.unpositioned = set()
    assert liveness(service(one), watch, now + PAUSED_STALL_S + 2).ok
