"""The fetch path's records: ``TupleRecords`` hands out what aiokafka's own unpacking
hands out (the same records, attribute for attribute, and the same positions), on
record batches built with aiokafka's own builder."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from typing import Any

import aiokafka
import pytest
from aiokafka.consumer import fetcher as aiokafka_fetcher
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.record.util import calc_crc32c
from aiokafka.structs import ConsumerRecord, TopicPartition

from consumer.engine import records
from consumer.engine.records import AIOKAFKA_RECORDS, FetchedRecord, TupleRecords

TP = TopicPartition("t", 3)
ATTRIBUTES_AT = 21
CRC_AT = 17
CONTROL = 0x20
PRODUCER = 42
ABORTED = 7

FIELDS = (
    "topic",
    "partition",
    "offset",
    "timestamp",
    "timestamp_type",
    "key",
    "value",
    "checksum",
    "serialized_key_size",
    "serialized_value_size",
    "headers",
)


def batch(
    base: int,
    entries: Iterable[tuple[bytes | None, bytes | None, list[tuple[str, bytes | None]]]],
    *,
    producer: int = -1,
    control: bool = False,
) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=0,
        is_transactional=int(producer != -1),
        producer_id=producer,
        producer_epoch=0 if producer != -1 else -1,
        base_sequence=0 if producer != -1 else -1,
        batch_size=1 << 20,
    )
    for delta, (key, value, headers) in enumerate(entries):
        builder.append(
            delta, timestamp=1_700_000_000_000 + delta, key=key, value=value, headers=headers
        )
    raw = bytearray(builder.build())
    struct.pack_into(">q", raw, 0, base)
    if control:
        (attributes,) = struct.unpack_from(">h", raw, ATTRIBUTES_AT)
        struct.pack_into(">h", raw, ATTRIBUTES_AT, attributes | CONTROL)
        struct.pack_into(">I", raw, CRC_AT, calc_crc32c(bytes(raw[ATTRIBUTES_AT:])))
    return bytes(raw)


def plain(base: int, count: int) -> bytes:
    return batch(
        base,
        [
            (
                None if i % 4 == 1 else f"k{i}".encode(),
                None if i % 5 == 2 else f'{{"n":{base + i}}}'.encode(),
                [("h", b"v"), ("empty", None)] if i % 3 == 0 else [],
            )
            for i in range(count)
        ],
    )


ABORT_MARKER_KEY = struct.pack(">hh", 0, 0)

LOGS: dict[str, tuple[bytes, list[tuple[int, int]], int]] = {
    "plain batches": (plain(0, 7) + plain(7, 5) + plain(12, 9), [], 0),
    "a position inside the first batch": (plain(0, 7) + plain(7, 5), [], 4),
    "an aborted transaction and its marker": (
        plain(0, 3)
        + batch(3, [(b"a", b"aborted", [])] * 4, producer=PRODUCER)
        + batch(7, [(ABORT_MARKER_KEY, b"", [])], producer=PRODUCER, control=True)
        + plain(8, 4),
        [(PRODUCER, 3)],
        0,
    ),
}


def drain(
    cls: type,
    log: bytes,
    aborted: list[tuple[int, int]],
    start: int,
    *,
    isolation: int,
    deserialize: Any = None,
    max_records: int = 3,
) -> list[tuple[list[tuple[Any, ...]], int]]:
    """The records of ``log`` as the client's ``getall`` takes them: in runs of at most
    ``max_records``, each with the position after it."""
    unpacked = cls(
        TP, MemoryRecords(log), aborted, start, deserialize, deserialize, True, isolation
    )
    runs = []
    while True:
        run: list[Any] = []
        for record in unpacked:
            run.append(tuple(getattr(record, name) for name in FIELDS))
            if len(run) >= max_records:
                break
        runs.append((run, unpacked.next_fetch_offset))
        if len(run) < max_records:
            return runs


@pytest.mark.parametrize(
    "isolation", [aiokafka_fetcher.READ_UNCOMMITTED, aiokafka_fetcher.READ_COMMITTED]
)
@pytest.mark.parametrize("name", sorted(LOGS))
def test_same_records_and_positions_as_aiokafka(name: str, isolation: int) -> None:
    log, aborted, start = LOGS[name]
    ours = drain(TupleRecords, log, aborted, start, isolation=isolation)
    theirs = drain(AIOKAFKA_RECORDS, log, aborted, start, isolation=isolation)
    assert ours == theirs
    assert sum(len(run) for run, _ in ours) > 0


def test_aborted_records_are_skipped_under_read_committed() -> None:
    log, aborted, start = LOGS["an aborted transaction and its marker"]
    runs = drain(TupleRecords, log, aborted, start, isolation=aiokafka_fetcher.READ_COMMITTED)
    offsets = [record[2] for run, _ in runs for record in run]
    assert offsets == [0, 1, 2, 8, 9, 10, 11]
    assert runs[-1][1] == 12


def test_records_are_named_tuples_with_consumer_record_attributes() -> None:
    unpacked = TupleRecords(TP, MemoryRecords(plain(0, 2)), [], 0, None, None, True, 0)
    record = next(iter(unpacked))
    assert isinstance(record, FetchedRecord)
    assert set(FetchedRecord._fields) == set(ConsumerRecord.__dataclass_fields__)
    assert (record.topic, record.partition, record.offset, record.key) == ("t", 3, 0, b"k0")
    assert record.headers == (("h", b"v"), ("empty", None))


def test_deserializers_get_aiokafka_records() -> None:
    unpacked = TupleRecords(
        TP, MemoryRecords(plain(0, 2)), [], 0, bytes.upper, bytes.upper, True, 0
    )
    record = next(iter(unpacked))
    assert isinstance(record, ConsumerRecord)
    assert record.key == b"K0"


def test_install_swaps_the_fetchers_class_for_this_aiokafka(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(aiokafka_fetcher, "PartitionRecords", AIOKAFKA_RECORDS)
    assert aiokafka.__version__.startswith(records.WRITTEN_FOR)
    assert records.install() is True
    assert aiokafka_fetcher.PartitionRecords is TupleRecords
    monkeypatch.setattr(aiokafka_fetcher, "PartitionRecords", AIOKAFKA_RECORDS)
    monkeypatch.setattr(aiokafka, "__version__", "9.9.9")
    assert records.install() is False
    assert aiokafka_fetcher.PartitionRecords is AIOKAFKA_RECORDS


def test_record_cost_measures_both_unpackers_over_the_whole_workload() -> None:
    from consumer.bench import record_cost
    from schemas.topics import Stream

    runs = record_cost.measure(Stream.METRICS, 1_200, 1)
    assert set(runs) == {"aiokafka", "tuples", "C parse alone"}
    assert all(len(values) == 1 and values[0] > 0 for values in runs.values())
