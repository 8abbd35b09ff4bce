"""Liveness measures progress, not only that the process is up."""

from __future__ import annotations

import dataclasses
import time

from consumer.engine.status import PipelineStatus
from consumer.health import ProgressWatch, StallBounds, liveness

STALL_S = 60.0
PAUSED_STALL_S = 300.0
BOUNDS = StallBounds(STALL_S, PAUSED_STALL_S)
TOPIC = "t"


def status(
    *, silent_s: float = 0, high: int = 10, paused: bool = False, breaker_open: bool = False
) -> PipelineStatus:
    """A member holding partition 0 at 10 and partition 1 with nothing stored."""
    return PipelineStatus(
        pipeline="jobs",
        topic=TOPIC,
        started=True,
        assigned=frozenset({0, 1}),
        positions={0: 10, 1: None},
        paused=frozenset({0}) if paused else frozenset(),
        breaker_open=breaker_open,
        heartbeat=time.monotonic() - silent_s,
        highwater={0: high, 1: 99},
    )


def probes(
    one: PipelineStatus, *, high_later: int, paused: bool = False, at: tuple[float, ...] = ()
) -> list[bool]:
    """Liveness at t and then at t + each of ``at`` (default: stall/2 and 2 stall), the high
    watermark moved to high_later."""
    watch, now = ProgressWatch(), time.monotonic()
    answers = [liveness([one], BOUNDS, watch, now).ok]
    for later in at or (STALL_S / 2, 2 * STALL_S):
        moved = dataclasses.replace(
            one,
            highwater={0: high_later, 1: 99},
            paused=frozenset({0}) if paused else frozenset(),
            heartbeat=now + later,
        )
        answers.append(liveness([moved], BOUNDS, watch, now + later).ok)
    return answers


def test_lag_is_high_watermark_minus_stored_position() -> None:
    assert status(high=25).lag() == {0: 15}


def test_new_records_not_consumed_for_the_stall_window_is_dead() -> None:
    assert probes(status(), high_later=500) == [True, True, False]


def test_idle_with_a_tail_of_control_records_is_alive() -> None:
    assert probes(status(high=11), high_later=11) == [True, True, True]


def test_backlog_while_paused_for_retries_is_alive_until_the_paused_bound() -> None:
    """A short outage is a readiness matter; a retry that never ends fails liveness."""
    later = (STALL_S / 2, 2 * STALL_S, PAUSED_STALL_S + 1)
    assert probes(status(), high_later=500, paused=True, at=later) == [True, True, True, False]


def test_backlog_behind_an_open_breaker_fails_after_the_paused_bound() -> None:
    later = (2 * STALL_S, PAUSED_STALL_S + 1)
    assert probes(status(breaker_open=True), high_later=500, at=later) == [True, True, False]


def test_silent_loop_is_dead() -> None:
    verdict = liveness([status(silent_s=2 * STALL_S)], BOUNDS, ProgressWatch())
    assert not verdict.ok
    assert "silent" in verdict.checks["jobs"]


def test_starting_service_is_alive() -> None:
    assert liveness([], BOUNDS, ProgressWatch()).ok


def test_partitions_never_positioned_fail_after_the_paused_bound() -> None:
    """Reading the stored positions retried for ever is a stall too."""
    watch, now = ProgressWatch(), time.monotonic()
    waiting = dataclasses.replace(status(), unpositioned=frozenset({0}))
    assert liveness([waiting], BOUNDS, watch, now).ok
    waiting = dataclasses.replace(waiting, heartbeat=now + PAUSED_STALL_S + 1)
    verdict = liveness([waiting], BOUNDS, watch, now + PAUSED_STALL_S + 1)
    assert not verdict.ok
    assert "not positioned" in verdict.checks["jobs"]
    positioned = dataclasses.replace(waiting, unpositioned=frozenset())
    assert liveness([positioned], BOUNDS, watch, now + PAUSED_STALL_S + 2).ok
