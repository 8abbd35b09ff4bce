"""Daily partitions: names, the days the window needs, what to make and what to drop."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from consumer.metrics.partitions import (
    day_of,
    days_ahead,
    is_partition,
    partition_name,
    plan,
    wanted_days,
)
from consumer.metrics.window import SampleWindow

NOW = datetime(2026, 12, 6, 18, 0, tzinfo=UTC)
WINDOW = SampleWindow(retention=timedelta(days=30), horizon=timedelta(days=7))
TODAY = date(2026, 12, 6)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def test_a_partition_name_says_its_day_and_nothing_else_passes_for_one() -> None:
    assert partition_name(TODAY) == "system_metrics_p20261206"
    assert day_of("system_metrics_p20261206") == TODAY
    for other in ("system_metrics", "system_metrics_p2026120", "system_metrics_p20261341", "x"):
        assert day_of(other) is None
    assert is_partition("system_metrics_default")
    assert not is_partition("system_metrics_hourly")


def test_the_window_needs_every_day_from_the_oldest_kept_sample_to_the_horizon() -> None:
    days = wanted_days(WINDOW, NOW)
    assert (days[0], days[-1], len(days)) == (date(2026, 11, 6), date(2026, 12, 13), 38)


def test_a_fresh_table_gets_the_whole_window_and_drops_nothing() -> None:
    todo = plan([], WINDOW, NOW)
    assert todo.create == wanted_days(WINDOW, NOW)
    assert todo.drop == []


def test_a_run_the_next_day_makes_one_day_ahead_and_drops_the_day_past_retention() -> None:
    existing = wanted_days(WINDOW, NOW)
    todo = plan(existing, WINDOW, NOW + timedelta(days=1))
    assert todo.create == [date(2026, 12, 14)]
    assert todo.drop == [date(2026, 11, 6)]


def test_a_day_is_dropped_only_once_every_sample_it_can_hold_is_expired() -> None:
    day = date(2026, 11, 5)
    end_of_day = datetime(2026, 11, 6, tzinfo=UTC)
    assert plan([day], WINDOW, end_of_day + timedelta(days=30)).drop == [day]
    assert plan([day], WINDOW, end_of_day + timedelta(days=30, seconds=-1)).drop == []


def test_running_the_plan_twice_changes_nothing_the_second_time() -> None:
    first = plan([], WINDOW, NOW)
    second = plan(first.create, WINDOW, NOW)
    assert (second.create, second.drop) == ([], [])


@pytest.mark.parametrize(
    ("existing", "expected"),
    [
        ([], 0.0),
        (_days(TODAY + timedelta(days=1), TODAY + timedelta(days=9)), 0.0),
        ([TODAY], 0.25),
        (_days(TODAY, TODAY + timedelta(days=7)), 7.25),
        ([TODAY, TODAY + timedelta(days=1), TODAY + timedelta(days=3)], 1.25),
    ],
)
def test_days_ahead_counts_the_unbroken_run_from_today(
    existing: list[date], expected: float
) -> None:
    assert days_ahead(existing, NOW) == pytest.approx(expected)
