"""Soak: many more crashes over a longer stream (`make soak`, marker `soak`)."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from tests.conftest import Publish
from tests.integration.test_resilience import crash_repeatedly


@pytest.mark.soak
@pytest.mark.timeout(1800)
async def test_forty_kills_over_a_long_stream_lose_and_double_nothing(
    make_settings: Any, publish: Publish, clean_db: asyncpg.Pool, tmp_path: Any
) -> None:
    """Forty SIGKILLs over about 120,000 events of all three kinds, with large batches, end
    in tables equal to the model with exact rollups and no dead letters."""
    settings = make_settings(batch_max_records=5000)
    await crash_repeatedly(
        settings,
        publish,
        clean_db,
        tmp_path / "consumer.log",
        seed=40,
        kills=40,
        jobs=2000,
        feedback=30_000,
        metrics=70_000,
    )
