"""What the operations side (probes, metrics, the ready line) sees of a running service.

``consumer.service.IngestService`` has this shape; the modules that serve it depend on
this view and on ``PipelineStatus``, never on the service or the engine themselves.
"""

from __future__ import annotations

from typing import Protocol

import asyncpg

from consumer.engine.status import PipelineStatus
from consumer.pipelines import Pipeline
from consumer.settings import Settings
from consumer.telemetry import Telemetry


class ServiceView(Protocol):
    settings: Settings
    telemetry: Telemetry
    pipelines: list[Pipeline]
    ops_port: int | str

    @property
    def pool(self) -> asyncpg.Pool | None:
        """The write pool, once the pipelines run."""

    def statuses(self) -> list[PipelineStatus]:
        """Each running pipeline member's status now (none before they start)."""

    async def settled(self) -> None:
        """Return once every pipeline member has settled (``PipelineRunner.settled``)."""
