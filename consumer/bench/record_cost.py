"""CPU time of unpacking fetched records, per record: aiokafka's own against ``TupleRecords``.

Each pipeline's workload is written into record batches of ``RECORDS_PER_BATCH`` with
aiokafka's own builder, as a producer sends them, then unpacked the way the consumer's
``getmany`` takes them (runs of at most ``BATCH`` records, CRCs checked), by aiokafka's
``PartitionRecords`` and by ``consumer.engine.records.TupleRecords`` in turn, pass after
pass, with the garbage collector tuned as the service tunes it; and, for scale, the C
parser alone (batches parsed, CRCs checked, records iterated). The figure is CPU time
(``time.process_time``); the median of the passes is reported for each.

    python -m consumer.bench.record_cost --events 50000 --repeat 7
"""

from __future__ import annotations

import statistics
import struct
import time
from collections.abc import Sequence

from aiokafka.consumer.fetcher import READ_COMMITTED
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition

from consumer.bench.decode_cost import BATCH, workload_arguments, workload_records
from consumer.engine.records import AIOKAFKA_RECORDS, TupleRecords
from consumer.service import tune_garbage_collector
from schemas.topics import Stream

RECORDS_PER_BATCH = 500
"""Records per record batch: what the benchmark's producer sends at once (16 KiB lingers
hold 40-100 events; a backlog fetched at once holds batches of this order)."""


def record_log(stream: Stream, events: int) -> bytes:
    """The workload's records as a partition's log: record batches back to back."""
    log = bytearray()
    records = workload_records(stream, events)
    for base in range(0, len(records), RECORDS_PER_BATCH):
        builder = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 1 << 24)
        for delta, record in enumerate(records[base : base + RECORDS_PER_BATCH]):
            builder.append(delta, timestamp=None, key=record.key, value=record.value, headers=[])
        batch = builder.build()
        struct.pack_into(">q", batch, 0, base)  # the batch's base offset
        log += batch
    return bytes(log)


def cpu_per_record(unpacker: type, log: bytes, events: int) -> float:
    """Microseconds of CPU per record to unpack ``log`` in runs of ``BATCH``."""
    started = time.process_time()
    records = unpacker(
        TopicPartition("t", 0), MemoryRecords(log), [], 0, None, None, True, READ_COMMITTED
    )
    taken = 0
    while True:
        run = []
        for record in records:
            run.append(record)
            if len(run) >= BATCH:
                break
        taken += len(run)
        if len(run) < BATCH:
            break
    elapsed = time.process_time() - started
    if taken != events:
        raise RuntimeError(f"unpacked {taken} records of {events}")
    return elapsed / events * 1e6


def cpu_per_record_in_c(log: bytes, events: int) -> float:
    """Microseconds of CPU per record to parse ``log``'s batches, check their CRCs and
    iterate their records in C, with no Python object of the client's per record."""
    started = time.process_time()
    batches = MemoryRecords(log)
    taken = 0
    while batches.has_next():
        batch = batches.next_batch()
        if not batch.validate_crc():
            raise RuntimeError("a batch's CRC does not match")
        taken += len(list(batch))
    elapsed = time.process_time() - started
    if taken != events:
        raise RuntimeError(f"parsed {taken} records of {events}")
    return elapsed / events * 1e6


def measure(stream: Stream, events: int, repeat: int) -> dict[str, list[float]]:
    """Microseconds per record of each unpacker and of the C parse alone, ``repeat``
    alternated passes."""
    log = record_log(stream, events)
    tune_garbage_collector()
    unpackers = {"aiokafka": AIOKAFKA_RECORDS, "tuples": TupleRecords}
    runs: dict[str, list[float]] = {name: [] for name in [*unpackers, "C parse alone"]}
    for _ in range(repeat):
        for name, unpacker in unpackers.items():
            runs[name].append(cpu_per_record(unpacker, log, events))
        runs["C parse alone"].append(cpu_per_record_in_c(log, events))
    return runs


def main(argv: Sequence[str] | None = None) -> None:
    streams, events, repeat = workload_arguments(__doc__.splitlines()[0], "records", argv)
    for stream in streams:
        runs = measure(stream, events, repeat)
        figures = "  ".join(
            f"{unpacker} {statistics.median(values):5.2f} ({min(values):.2f}-{max(values):.2f})"
            for unpacker, values in runs.items()
        )
        print(f"{stream.value:8} us/record, median (range): {figures}")


if __name__ == "__main__":
    main()
