"""The metric sample window: expired, kept, or past the horizon, decided before writing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from consumer.metrics.window import BEYOND_HORIZON_REASON, SampleTime, SampleWindow
from consumer.outcomes import Decoded
from consumer.settings import MetricsRetentionSettings
from consumer.writers.metrics import split_by_window
from schemas import decode
from tests.support import events as ev
from tests.unit.helpers import record

NOW = datetime(2026, 12, 6, 7, 30, tzinfo=UTC)
WINDOW = SampleWindow(retention=timedelta(days=30), horizon=timedelta(days=7))


def test_the_window_runs_from_the_retention_to_the_horizon_both_included() -> None:
    oldest, latest = NOW - timedelta(days=30), NOW + timedelta(days=7)
    assert WINDOW.place(oldest, NOW) is SampleTime.KEPT
    assert WINDOW.place(oldest - timedelta(microseconds=1), NOW) is SampleTime.EXPIRED
    assert WINDOW.place(latest, NOW) is SampleTime.KEPT
    assert WINDOW.place(latest + timedelta(microseconds=1), NOW) is SampleTime.BEYOND_HORIZON


def test_the_window_reads_the_settings_defaults() -> None:
    assert SampleWindow.of(MetricsRetentionSettings()) == WINDOW
    custom = MetricsRetentionSettings(raw_retention_days=2, future_horizon_days=1)
    assert SampleWindow.of(custom) == SampleWindow(timedelta(days=2), timedelta(days=1))


def _decoded(moment: datetime, offset: int) -> Decoded:
    event = ev.metric("svc", "cpu", 1.0, at=moment)
    return Decoded(record(event, offset=offset), decode(ev.to_bytes(event)))


def test_a_batch_splits_into_kept_expired_and_refused_at_validate() -> None:
    times = [NOW, NOW - timedelta(days=31), NOW + timedelta(days=8), NOW - timedelta(days=29)]
    items = [_decoded(moment, offset) for offset, moment in enumerate(times)]

    kept, expired, refused = split_by_window(items, WINDOW, NOW)

    assert [item.record.offset for item in kept] == [0, 3]
    assert expired == 1
    assert [(d.record.id.offset, d.stage, d.error_class) for d in refused] == [
        (2, "validate", BEYOND_HORIZON_REASON)
    ]
    assert "UTXOIQ_METRICS_FUTURE_HORIZON_DAYS" in refused[0].message


def test_a_batch_keeps_samples_at_both_edges_of_the_window() -> None:
    oldest, latest = WINDOW.oldest_kept(NOW), WINDOW.latest_kept(NOW)
    edge = timedelta(microseconds=1)
    times = [oldest, oldest - edge, latest, latest + edge]
    items = [_decoded(moment, offset) for offset, moment in enumerate(times)]

    kept, expired, refused = split_by_window(items, WINDOW, NOW)

    assert [item.record.offset for item in kept] == [0, 2]
    assert expired == 1
    assert [d.record.id.offset for d in refused] == [3]
