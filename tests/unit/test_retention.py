"""Which stored positions lie below the log start: records the broker deleted unconsumed."""

from __future__ import annotations

from consumer.coordinates import TopicPartition
from consumer.retention import RetentionLoss, retention_losses

A, B, C = (TopicPartition("t", p) for p in range(3))


def test_only_positions_below_the_log_start_are_losses() -> None:
    stored = {A: 10, B: 40, C: 7}
    starts = {A: 25, B: 40}  # C's start unknown: the broker did not answer for it
    assert retention_losses(stored, starts) == [RetentionLoss(A, 10, 25)]
    assert retention_losses(stored, starts)[0].records == 15
