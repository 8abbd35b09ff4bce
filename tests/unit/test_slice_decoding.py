"""The slice path of the decode stage: a slice's times parsed together as each would be
alone, and the Structs that leave them as text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import model_validator

from schemas.events import EARLIEST, LATEST, MetricRecorded
from schemas.struct_steps import cut_to_microseconds, parse_times, time_parser
from schemas.structs import TIMES_AS_TEXT, struct_of

ANY_TIME = time_parser(EARLIEST, LATEST)
"""The envelope's time step: ``EventTime`` has no bounds of its own."""


@pytest.mark.parametrize(
    ("text", "cut"),
    [
        ("2026-06-01T12:00:00.1234567Z", "2026-06-01T12:00:00.123456Z"),
        ("2026-06-01T12:00:00.123456789012+02:00", "2026-06-01T12:00:00.123456+02:00"),
        ("2026-06-01T12:00:00.1+00:00", "2026-06-01T12:00:00.1+00:00"),
        ("2026-06-01T12:00:00.12-00:00", "2026-06-01T12:00:00.12-00:00"),
        ("2026-06-01T12:00:00.123456Z", "2026-06-01T12:00:00.123456Z"),
        ("2026-06-01T12:00:00Z", "2026-06-01T12:00:00Z"),
        ("2026-06-01T12:00:00.123456\u0663Z", "2026-06-01T12:00:00.123456\u0663Z"),
    ],
)
def test_a_fraction_is_cut_to_six_digits_and_nothing_else_changes(text: str, cut: str) -> None:
    assert cut_to_microseconds(text) == cut


def test_times_parsed_together_are_those_parsed_one_by_one() -> None:
    texts = [
        "2026-06-01T12:00:00.123456Z",
        "2026-06-01T12:00:00.1234567Z",
        "2026-06-01T12:00:00.1+00:00",
        "2026-06-01T14:00:00+02:00",
        "0001-01-01T00:00:00Z",
    ]
    one_by_one = list(map(ANY_TIME, texts))
    together = parse_times(texts)
    assert together == one_by_one
    assert all(moment.tzinfo is UTC for moment in together)
    assert together[3] == datetime(2026, 6, 1, 12, tzinfo=timezone(timedelta(0)))


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("2026-06-01T12:00:00", "without an offset"),
        ("0001-01-01T00:00:00+01:00", "outside the years 1 to 9999"),
        ("2026-06-01T12:00:00.\u0663Z", "RFC3339"),
    ],
)
def test_times_parsed_together_refuse_what_one_alone_refuses(text: str, refusal: str) -> None:
    with pytest.raises(ValueError, match=refusal):
        ANY_TIME(text)
    with pytest.raises(ValueError, match=refusal):
        parse_times(["2026-06-01T12:00:00Z", text])


class Checked(MetricRecorded):
    @model_validator(mode="after")
    def _check(self) -> Checked:
        return self


def test_times_stay_parsed_by_the_struct_where_a_model_check_may_read_them() -> None:
    assert getattr(struct_of(MetricRecorded, times_as_text=True), TIMES_AS_TEXT) == ("time",)
    assert getattr(struct_of(Checked, times_as_text=True), TIMES_AS_TEXT) == ()
    assert getattr(struct_of(MetricRecorded), TIMES_AS_TEXT) == ()


def test_one_struct_for_the_same_arguments_however_passed() -> None:
    assert struct_of(MetricRecorded) is struct_of(MetricRecorded, None, times_as_text=False)
