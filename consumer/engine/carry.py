"""Records fetched for a write lane beyond its batch's limits, kept for its next batch.

A poll asks the client for as many records as the batch has room for, but a batch also
has a byte limit, and a fetch may hold more than the batch's room when the client's
buffer had them already. What does not fit is kept here, per partition, and the lane's
next gather takes it first, so records reach batches in offset order: a fetch for a
partition that still has some carried is added behind them. A batch takes carried
records only as far as its record and byte limits allow.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Collection
from itertools import accumulate

from consumer.batching import Batch
from consumer.coordinates import KafkaMessage, TopicPartition, message_bytes, payload_bytes


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

    def drop(self, tp: TopicPartition) -> None:
        """Forget ``tp``'s records: it is revoked, or about to be sought."""
        self._records.pop(tp, None)
        self._bytes.pop(tp, None)

    def clear(self) -> None:
        self._records.clear()
        self._bytes.clear()
