"""Records fetched for a write lane while it was busy, kept for its next batch.

The Kafka client fetches a partition again only once the records it holds for it are
taken. Records of a lane that is writing, left with the client, would keep their
partition from being fetched until that lane's next batch, and what the broker received
meanwhile would wait a whole write more. So each gather takes what the client holds for
every lane, and what is not its own lane's is carried here.

Per partition, carried records come before anything fetched later: a batch takes the
carried ones first, and a fetch for a partition that still has some carried is added
behind them, so records reach batches in offset order. A batch takes carried records
only as far as its record and byte limits allow.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection
from itertools import accumulate

from consumer.batching import Batch
from consumer.coordinates import KafkaMessage, TopicPartition, message_bytes, payload_bytes
from consumer.engine.lanes import lane_of


class Carry:
    """Carried records per partition, in offset order, with their payload bytes."""

    def __init__(self) -> None:
        self._records: dict[TopicPartition, list[KafkaMessage]] = {}
        self._bytes: dict[TopicPartition, int] = {}

    def __len__(self) -> int:
        return sum(len(records) for records in self._records.values())

    def take_into(self, batch: Batch, mine: Collection[TopicPartition]) -> None:
        """Move the carried records of ``mine`` (of every partition when empty) into
        ``batch``, as many as its limits allow; the rest stay carried."""
        for tp in list(self._records):
            if batch.at_limit():
                return
            if mine and tp not in mine:
                continue
            self._bytes.pop(tp, None)
            self._fill(batch, tp, self._records.pop(tp))

    def route(
        self,
        batch: Batch,
        tp: TopicPartition,
        records: list[KafkaMessage],
        mine: Collection[TopicPartition],
    ) -> None:
        """Fetched records of ``tp``: into ``batch`` when ``tp`` is one of ``mine`` (or
        ``mine`` is empty) and nothing of it is carried, as far as the batch's limits
        allow; carried otherwise. The list is handed over: the batch or the carry keeps
        it as it is, without a copy, so the caller must not use it again."""
        if not records:
            return
        if tp in self._records or (mine and tp not in mine):
            self._carry(tp, records)
            return
        self._fill(batch, tp, records)

    def _fill(self, batch: Batch, tp: TopicPartition, records: list[KafkaMessage]) -> None:
        """Extend ``batch`` with the longest prefix of ``records`` within its room and its
        byte limit (at least one record into an empty batch), and carry the rest."""
        room = min(batch.room, len(records))
        head = records if room == len(records) else records[:room]
        size = payload_bytes(head)
        budget = batch.limits.max_bytes - batch.size_bytes
        if size > budget:  # rare: the batch reaches its byte limit within these records
            fits = bisect_right(list(accumulate(map(message_bytes, head))), budget)
            head = head[: fits if fits or batch else 1]
            size = payload_bytes(head)
        batch.extend(tp, head, size=size)
        if len(head) < len(records):
            self._carry(tp, records[len(head) :])

    def _carry(self, tp: TopicPartition, records: list[KafkaMessage]) -> None:
        held = self._records.get(tp)
        if held is None:
            self._records[tp] = records  # handed over: kept as it is
        else:
            held.extend(records)
        self._bytes[tp] = self._bytes.get(tp, 0) + payload_bytes(records)

    def held_per_lane(self, lanes: int) -> list[tuple[int, int]]:
        """Records and bytes carried for each lane (partition number modulo lanes)."""
        held = [(0, 0)] * lanes
        for tp, records in self._records.items():
            lane = lane_of(tp.partition, lanes)
            count, size = held[lane]
            held[lane] = (count + len(records), size + self._bytes.get(tp, 0))
        return held

    def drop(self, tp: TopicPartition) -> None:
        """Forget ``tp``'s records: it is revoked, or about to be sought."""
        self._records.pop(tp, None)
        self._bytes.pop(tp, None)

    def clear(self) -> None:
        self._records.clear()
        self._bytes.clear()
