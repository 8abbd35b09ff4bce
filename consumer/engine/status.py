"""What a pipeline's engine shows the outside: a frozen status, and the pulse it keeps.

Health probes, the lag metric, the ready line and tests read a ``PipelineStatus``; none
of them reaches into the engine. The status is taken when asked for, so it is never
older than the question.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(slots=True)
class Pulse:
    """When the loop last came round, and when a batch was last committed (monotonic)."""

    heartbeat: float = field(default_factory=time.monotonic)
    progress: float = field(default_factory=time.monotonic)

    def beat(self) -> None:
        self.heartbeat = time.monotonic()

    def progressed(self) -> None:
        self.progress = time.monotonic()


@dataclass(frozen=True, slots=True)
class PipelineStatus:
    """One pipeline member at one instant.

    ``positions``: the positioned partitions and their stored next offsets (None: nothing
    stored yet); ``unpositioned``: assigned partitions not yet sought to their stored
    positions; ``paused``: partitions the client holds paused; ``highwater``: the high
    watermark of each partition the client knows it for."""

    pipeline: str
    topic: str
    started: bool = False
    assigned: frozenset[int] = frozenset()
    positions: Mapping[int, int | None] = field(default_factory=dict)
    unpositioned: frozenset[int] = frozenset()
    paused: frozenset[int] = frozenset()
    breaker_open: bool = False
    heartbeat: float = 0.0
    last_progress: float = 0.0
    highwater: Mapping[int, int] = field(default_factory=dict)

    @property
    def positioned(self) -> bool:
        """Every assigned partition is sought to its stored position."""
        return not self.unpositioned

    def lag(self) -> dict[int, int]:
        """High watermark minus stored position, per partition where both are known."""
        return {
            partition: max(self.highwater[partition] - position, 0)
            for partition, position in self.positions.items()
            if position is not None and partition in self.highwater
        }
