"""The dead-letter breaker's states: open, half-open after its cool-down, close or reopen."""

from __future__ import annotations

from consumer.breaker import BreakerState, DeadLetterBreaker


def state_of(breaker: DeadLetterBreaker) -> BreakerState:
    return breaker.state


def tripped(cooldown_s: float = 10, max_cooldown_s: float = 35) -> DeadLetterBreaker:
    breaker = DeadLetterBreaker(10, 0.5, cooldown_s, max_cooldown_s)
    assert breaker.would_trip(10, 10)
    breaker.trip("dead letters would be 10 of 10 records", now=100.0)
    return breaker


def test_an_open_breaker_waits_its_cool_down_then_lets_one_batch_through() -> None:
    breaker = tripped()
    assert state_of(breaker) is BreakerState.OPEN
    assert breaker.remaining_s(105.0) == 5.0
    assert breaker.remaining_s(110.0) == 0.0
    breaker.half_open()
    assert not breaker.would_trip(100, 100)  # the half-open batch, whatever its share
    breaker.record(100, 100)
    assert state_of(breaker) is BreakerState.HALF_OPEN
    assert breaker.share == 0.0  # what follows is judged afresh


def test_a_half_open_breaker_closes_after_a_window_without_domination() -> None:
    breaker = tripped()
    breaker.half_open()
    breaker.record(5, 5)
    for _ in range(2):
        assert not breaker.would_trip(5, 1)
        breaker.record(5, 1)
    assert state_of(breaker) is BreakerState.CLOSED
    assert breaker.cooldown_s == 10


def test_reopening_doubles_the_cool_down_up_to_its_ceiling() -> None:
    breaker = tripped()
    cooldowns = []
    for step in range(4):
        breaker.half_open()
        breaker.record(10, 10)
        assert breaker.would_trip(10, 10)
        breaker.trip("still poison", now=200.0 + step)
        cooldowns.append(breaker.cooldown_s)
    assert cooldowns == [20, 35, 35, 35]
    assert state_of(breaker) is BreakerState.OPEN


def test_tripping_an_open_breaker_again_changes_nothing() -> None:
    breaker = tripped()
    breaker.trip("another lane", now=104.0)
    assert (breaker.opened_at, breaker.cooldown_s) == (100.0, 10)


def test_an_operators_close_lets_the_held_batch_through_and_resets_the_cool_down() -> None:
    breaker = tripped()
    breaker.half_open()
    breaker.record(10, 10)
    breaker.trip("again", now=120.0)
    assert breaker.cooldown_s == 20
    breaker.close_now()
    assert state_of(breaker) is BreakerState.CLOSED
    assert breaker.remaining_s(121.0) == 0.0
    assert not breaker.would_trip(10, 10)
    breaker.record(10, 10)
    assert breaker.cooldown_s == 10
    assert not breaker.would_trip(9, 9)  # the window fills again before it can trip
