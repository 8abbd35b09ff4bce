"""Replay targets: each kind resolves to an offset clamped to what the log holds."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from consumer.ops.errors import OperationRefused
from consumer.ops.replay import (
    PartitionPlan,
    ReplayTarget,
    TargetKind,
    resolve_target,
    resume_offset,
    select_partitions,
)

EARLIEST, LATEST = 100, 200


@pytest.mark.parametrize(
    ("target", "current", "by_time", "expected"),
    [
        (ReplayTarget(TargetKind.EARLIEST), 150, None, 100),
        (ReplayTarget(TargetKind.LATEST), 150, None, 200),
        (ReplayTarget(TargetKind.OFFSET, offset=120), 150, None, 120),
        (ReplayTarget(TargetKind.OFFSET, offset=5), 150, None, 100),
        (ReplayTarget(TargetKind.OFFSET, offset=500), 150, None, 200),
        (ReplayTarget(TargetKind.SHIFT, offset=-20), 150, None, 130),
        (ReplayTarget(TargetKind.SHIFT, offset=-80), 150, None, 100),
        (ReplayTarget(TargetKind.SHIFT, offset=70), 150, None, 200),
        (ReplayTarget(TargetKind.DATETIME, at=datetime.now(UTC)), 150, 170, 170),
        (ReplayTarget(TargetKind.DATETIME, at=datetime.now(UTC)), 150, None, 200),
    ],
)
def test_targets_resolve_and_clamp(
    target: ReplayTarget, current: int, by_time: int | None, expected: int
) -> None:
    assert resolve_target(target, current, EARLIEST, LATEST, by_time) == expected


def test_a_partition_never_committed_resumes_at_the_log_start() -> None:
    assert resume_offset(None, 40) == 40
    assert resume_offset(10, 40) == 40
    assert resume_offset(55, 40) == 55


def test_records_to_reprocess_count_from_target_to_end() -> None:
    plan = PartitionPlan(0, stored=190, committed=190, earliest=100, latest=200, target=150)
    assert plan.to_reprocess == 50
    assert plan.current == 190


def test_partitions_default_to_all_and_unknown_ones_are_refused() -> None:
    assert select_partitions([0, 1, 2], None) == [0, 1, 2]
    assert select_partitions([0, 1, 2], [2, 0]) == [0, 2]
    with pytest.raises(OperationRefused, match="no partition 5"):
        select_partitions([0, 1, 2], [0, 5])


def test_targets_describe_themselves() -> None:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    assert "2026-11-01T00:00:00+00:00" in ReplayTarget(TargetKind.DATETIME, at=at).describe()
    assert ReplayTarget(TargetKind.SHIFT, offset=-3).describe() == "shift by -3"
