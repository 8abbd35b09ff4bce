"""Dead letters once per record: what a replay or a redelivery meets again.

A record whose coordinates already have a ``dead_letters`` row is never published to
the dead-letter topic again. On replay or redelivery it is decoded and applied afresh:
if it still fails, its row stays as it is; if it now applies (the consumer has learnt
its type, say), its row is marked ``redriven``.

Looking the rows up costs a round trip, so a batch does it only when it may meet one:
when a partition's records start at or below the highest offset of that partition
with a row (``DeadLetterMarks``, read when partitions are sought and raised by every
dead letter this member records). A stream read for the first time never pays it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import asyncpg

from consumer.batching import Batch
from consumer.coordinates import RecordId, TopicPartition
from consumer.outcomes import DeadLetter
from consumer.vocabulary import DeadLetterStatus

HIGHEST = """
SELECT p AS partition, (
  SELECT "offset" FROM dead_letters WHERE topic = $1 AND partition = p
  ORDER BY "offset" DESC LIMIT 1
) AS highest
FROM unnest($2::int[]) AS p
"""
"""One descent of the primary key per partition, however many rows the table holds."""

FOUND = """
SELECT d.partition, d."offset" FROM unnest($2::int[], $3::bigint[], $4::bigint[]) AS s(p, lo, hi)
JOIN dead_letters AS d ON d.topic = $1 AND d.partition = s.p AND d."offset" BETWEEN s.lo AND s.hi
"""

MARK_REDRIVEN = f"""
UPDATE dead_letters SET status = '{DeadLetterStatus.REDRIVEN}', status_reason = $4,
  updated_at = now()
WHERE (topic, partition, "offset") IN (SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[]))
  AND status <> '{DeadLetterStatus.REDRIVEN}'
"""
APPLIED_AGAIN = "applied when consumed again (replay or redelivery)"


@dataclass(slots=True)
class DeadLetterMarks:
    """Per partition, the highest offset known to have a ``dead_letters`` row."""

    highest: dict[TopicPartition, int] = field(default_factory=dict)

    def may_meet(self, batch: Batch) -> bool:
        """Whether ``batch`` may hold a record that already has a row."""
        for tp, records in batch.parts.items():
            mark = self.highest.get(tp)
            if mark is not None and records and records[0].offset <= mark:
                return True
        return False

    def raise_to(self, dead: Iterable[DeadLetter]) -> None:
        for d in dead:
            tp = d.record.id.topic_partition
            self.highest[tp] = max(self.highest.get(tp, -1), d.record.id.offset)

    def forget(self, tp: TopicPartition) -> None:
        self.highest.pop(tp, None)

    async def load(
        self, conn: asyncpg.Connection, topic: str, partitions: Iterable[TopicPartition]
    ) -> None:
        """Read the marks of ``partitions`` (of ``topic``) from the table."""
        wanted = sorted(tp.partition for tp in partitions if tp.topic == topic)
        if not wanted:
            return
        for row in await conn.fetch(HIGHEST, topic, wanted):
            if row["highest"] is not None:
                self.highest[TopicPartition(topic, row["partition"])] = row["highest"]


async def recorded_among(conn: asyncpg.Connection, batch: Batch) -> set[RecordId]:
    """The coordinates of ``batch`` that already have a ``dead_letters`` row."""
    spans = [(tp, records[0].offset, records[-1].offset) for tp, records in batch.parts.items()]
    found: set[RecordId] = set()
    for topic in {tp.topic for tp, _, _ in spans}:
        mine = [(tp.partition, lo, hi) for tp, lo, hi in spans if tp.topic == topic]
        partitions, lows, highs = (list(column) for column in zip(*mine, strict=True))
        rows = await conn.fetch(FOUND, topic, partitions, lows, highs)
        found.update(RecordId(topic, r["partition"], r["offset"]) for r in rows)
    return found


def first_time(dead: Sequence[DeadLetter], recorded: set[RecordId]) -> list[DeadLetter]:
    """The dead letters whose records have no row yet (the only ones published)."""
    return [d for d in dead if d.record.id not in recorded] if recorded else list(dead)


async def mark_applied_again(
    conn: asyncpg.Connection, recorded: set[RecordId], failed: Iterable[DeadLetter]
) -> int:
    """Mark ``redriven`` the rows of records met again that now applied; how many."""
    applied = sorted(recorded - {d.record.id for d in failed})
    if not applied:
        return 0
    status: str = await conn.execute(
        MARK_REDRIVEN,
        [i.topic for i in applied],
        [i.partition for i in applied],
        [i.offset for i in applied],
        APPLIED_AGAIN,
    )
    return int(status.rsplit(" ", 1)[-1])


def must_look_up(marks: DeadLetterMarks | None, batch: Batch) -> bool:
    """Whether a batch must look its records up in ``dead_letters`` (``marks`` None:
    always, for a caller that keeps none)."""
    return marks is None or marks.may_meet(batch)
