"""Consumer positions stored in PostgreSQL: the source of truth for where to resume.

Each batch moves the position of its partitions with a compare-and-set in the same
transaction as its rows: the row must still hold the position this member started the
batch from. A member that lost its partitions without noticing (a zombie after a long
pause) therefore fails its commit instead of applying the batch a second time. A
position that was expected but has no row (its first commit was lost in a PostgreSQL
crash, or an operator deleted it) fails too: inserting it would skip the records below.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import asyncpg

from consumer.coordinates import TopicPartition
from consumer.errors import PositionConflict

NO_POSITION = -1
"""Stands for 'no row yet' in the compare-and-set."""

LOAD = """
SELECT topic, partition, next_offset FROM ingest_offsets
WHERE group_id = $1 AND (topic, partition) IN (SELECT * FROM unnest($2::text[], $3::int[]))
"""

ADVANCE = """
WITH moves AS (
  SELECT * FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[])
    AS m(topic, partition, expected, next_offset)
)
INSERT INTO ingest_offsets AS o (group_id, topic, partition, next_offset, updated_at)
SELECT $1, topic, partition, next_offset, now() FROM moves
WHERE expected = -1 OR EXISTS (
  SELECT 1 FROM ingest_offsets s
  WHERE s.group_id = $1 AND s.topic = moves.topic AND s.partition = moves.partition)
ORDER BY topic, partition
ON CONFLICT (group_id, topic, partition) DO UPDATE SET
  next_offset = excluded.next_offset, updated_at = excluded.updated_at
WHERE o.next_offset = (
  SELECT expected FROM moves WHERE moves.topic = o.topic AND moves.partition = o.partition)
RETURNING topic, partition
"""

SET = """
INSERT INTO ingest_offsets AS o (group_id, topic, partition, next_offset, updated_at)
SELECT $1, t, p, n, now() FROM unnest($2::text[], $3::int[], $4::bigint[]) AS m(t, p, n)
ORDER BY t, p
ON CONFLICT (group_id, topic, partition) DO UPDATE SET
  next_offset = excluded.next_offset, updated_at = excluded.updated_at
"""


async def load_positions(
    conn: asyncpg.Connection, group: str, partitions: Iterable[TopicPartition]
) -> dict[TopicPartition, int]:
    """Stored next offsets; partitions never committed are absent."""
    tps = sorted(partitions)
    rows = await conn.fetch(LOAD, group, [tp.topic for tp in tps], [tp.partition for tp in tps])
    return {TopicPartition(r["topic"], r["partition"]): r["next_offset"] for r in rows}


async def advance_positions(
    conn: asyncpg.Connection,
    group: str,
    expected: Mapping[TopicPartition, int | None],
    targets: Mapping[TopicPartition, int],
) -> None:
    """Move positions to ``targets`` iff they still hold ``expected``; else PositionConflict."""
    tps = sorted(targets)
    moved = await conn.fetch(
        ADVANCE,
        group,
        [tp.topic for tp in tps],
        [tp.partition for tp in tps],
        [NO_POSITION if expected.get(tp) is None else expected[tp] for tp in tps],
        [targets[tp] for tp in tps],
    )
    if len(moved) != len(tps):
        done = {TopicPartition(r["topic"], r["partition"]) for r in moved}
        lost = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in tps if tp not in done)
        raise PositionConflict(f"stored position moved by another member: {lost}")


async def set_positions(
    conn: asyncpg.Connection, group: str, targets: Mapping[TopicPartition, int]
) -> None:
    """Overwrite positions unconditionally (replay tooling)."""
    tps = sorted(targets)
    await conn.execute(
        SET,
        group,
        [tp.topic for tp in tps],
        [tp.partition for tp in tps],
        [targets[tp] for tp in tps],
    )
