"""The position compare-and-set in ``ingest_offsets``: the guard of exactly-once effects."""

from __future__ import annotations

import asyncpg
import pytest

from consumer.coordinates import TopicPartition
from consumer.errors import PositionConflict
from consumer.positions import advance_positions, load_positions

GROUP = "g-positions"
TP = TopicPartition("t-positions", 0)


async def test_positions_move_only_from_the_position_expected(clean_db: asyncpg.Pool) -> None:
    async with clean_db.acquire() as conn:
        await advance_positions(conn, GROUP, {TP: None}, {TP: 100})
        await advance_positions(conn, GROUP, {TP: 100}, {TP: 250})
        with pytest.raises(PositionConflict):
            await advance_positions(conn, GROUP, {TP: 100}, {TP: 300})
        with pytest.raises(PositionConflict):
            await advance_positions(conn, GROUP, {TP: None}, {TP: 300})
        assert await load_positions(conn, GROUP, [TP]) == {TP: 250}


async def test_an_expected_position_without_a_row_is_a_conflict(clean_db: asyncpg.Pool) -> None:
    """A first commit lost in a PostgreSQL crash leaves no row; the next batch, which
    expects that commit's position, must not create the row and skip the records below."""
    async with clean_db.acquire() as conn:
        with pytest.raises(PositionConflict):
            await advance_positions(conn, GROUP, {TP: 200}, {TP: 400})
        assert await load_positions(conn, GROUP, [TP]) == {}
