"""Records fetched for a write lane while it was busy, kept for its next batch.

The Kafka client fetches a partition again only once the records it holds for it are
taken. Records of a lane that is writing, left with the client, would keep their
partition from being fetched until that lane's next batch, and what the broker received
meanwhile would wait a whole write more. So each gather takes what the client holds for
every lane, and what is not its own lane's is carried here.

Per partition, carried records come before anything fetched later: a batch takes the
carried ones first, and a fetch for a partition that still has some carried is added
behind them, so records reach batches in offset order.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from consumer.batching import Batch
from consumer.coordinates import KafkaMessage, TopicPartition


class Carry:
    """Carried records per partition, in offset order."""

    def __init__(self) -> None:
        self._records: dict[TopicPartition, list[KafkaMessage]] = {}

    def __len__(self) -> int:
        return sum(len(records) for records in self._records.values())

    def take_into(self, batch: Batch, mine: Collection[TopicPartition]) -> None:
        """Move the carried records of ``mine`` (of every partition when empty) into
        ``batch``, as many as it has room for; the rest stay carried."""
        for tp in list(self._records):
            if batch.room <= 0:
                return
            if mine and tp not in mine:
                continue
            self._fill(batch, tp, self._records.pop(tp))

    def route(
        self,
        batch: Batch,
        tp: TopicPartition,
        records: Sequence[KafkaMessage],
        mine: Collection[TopicPartition],
    ) -> None:
        """Fetched records of ``tp``: into ``batch`` when ``tp`` is one of ``mine`` (or
        ``mine`` is empty) and nothing of it is carried, as far as the batch has room;
        carried otherwise."""
        if not records:
            return
        if tp in self._records or (mine and tp not in mine):
            self._records.setdefault(tp, []).extend(records)
            return
        self._fill(batch, tp, list(records))

    def _fill(self, batch: Batch, tp: TopicPartition, records: list[KafkaMessage]) -> None:
        room = batch.room
        batch.extend(tp, records[:room])
        if len(records) > room:
            self._records[tp] = records[room:]

    def held_per_lane(self, lanes: int) -> list[int]:
        """How many records are carried for each lane (partition number modulo lanes)."""
        held = [0] * lanes
        for tp, records in self._records.items():
            held[tp.partition % lanes] += len(records)
        return held

    def drop(self, tp: TopicPartition) -> None:
        """Forget ``tp``'s records: it is revoked, or about to be sought."""
        self._records.pop(tp, None)

    def clear(self) -> None:
        self._records.clear()
