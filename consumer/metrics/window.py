"""Which metric samples the service keeps: the window from the raw retention to the horizon.

A sample older than the raw retention is expired: counted, neither stored nor rolled up,
never dead-lettered, so a replay of old records changes nothing. A sample later than the
future horizon is refused at stage ``validate``. Both bounds move with the clock, so the
check runs where the sample is written, against the time of that batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from consumer.settings import MetricsRetentionSettings

BEYOND_HORIZON_REASON = "BeyondHorizon"
"""The dead letter's error class for a sample past the future horizon."""


class SampleTime(StrEnum):
    """Where a sample's time falls against the window."""

    KEPT = "kept"
    """Within the window: stored and rolled up."""
    EXPIRED = "expired"
    """Older than the raw retention: counted, not stored, not rolled up."""
    BEYOND_HORIZON = "beyond_horizon"
    """Later than the future horizon: refused at ``validate``."""


@dataclass(frozen=True, slots=True)
class SampleWindow:
    """The raw retention and the future horizon, as durations."""

    retention: timedelta
    horizon: timedelta

    @classmethod
    def of(cls, settings: MetricsRetentionSettings) -> SampleWindow:
        return cls(
            timedelta(days=settings.raw_retention_days),
            timedelta(days=settings.future_horizon_days),
        )

    def oldest_kept(self, now: datetime) -> datetime:
        """The oldest sample time kept at ``now``."""
        return now - self.retention

    def latest_kept(self, now: datetime) -> datetime:
        """The latest sample time kept at ``now``."""
        return now + self.horizon

    def place(self, recorded_at: datetime, now: datetime) -> SampleTime:
        """Where ``recorded_at`` falls at ``now``."""
        if recorded_at < self.oldest_kept(now):
            return SampleTime.EXPIRED
        if recorded_at > self.latest_kept(now):
            return SampleTime.BEYOND_HORIZON
        return SampleTime.KEPT

    def refusal(self, recorded_at: datetime, now: datetime) -> str:
        """The dead letter's message for a sample past the horizon."""
        days = self.horizon.days
        return (
            f"time: {recorded_at.isoformat()} is more than {days} days after "
            f"{now.isoformat(timespec='seconds')} (UTXOIQ_METRICS_FUTURE_HORIZON_DAYS)"
        )
