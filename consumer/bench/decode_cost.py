"""CPU time of the decode stage alone, per event: the hot path without Kafka or PostgreSQL.

Each pipeline's workload (``consumer.bench.workload``) is made once, then decoded in
batches of ``BATCH`` records by ``consumer.decoding.decode_records``, as the service
does, with the garbage collector tuned as the service tunes it. The figure is CPU time
(``time.process_time``), so other processes on the machine disturb it less than wall
time; the median of the repeats is reported.

    python -m consumer.bench.decode_cost --events 50000 --repeat 7
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter
from collections.abc import Sequence

from consumer.bench.workload import Shape, generate
from consumer.coordinates import Record, RecordId
from consumer.decoding import decode_records
from consumer.service import tune_garbage_collector
from schemas.codec import DEFAULT_MAX_EVENT_BYTES
from schemas.registry import REGISTRY
from schemas.topics import Stream

BATCH = 5_000
"""Records per decoded batch (the service's default batch size)."""


def workload_records(stream: Stream, events: int, seed: int = 1) -> list[Record]:
    """``events`` records of the stream's benchmark workload, as the consumer fetches them."""
    factory = Shape().factory(stream, events, seed)
    pairs = [pair for chunk in generate(factory, events) for pair in chunk]
    return [
        Record(RecordId(stream.value, 0, offset), key, value, (), 0)
        for offset, (key, value) in enumerate(pairs)
    ]


def cpu_per_event(stream: Stream, records: Sequence[Record]) -> float:
    """Microseconds of CPU the decode stage spends per record, over one pass."""
    accepts = REGISTRY.accepts(stream)
    unknown: Counter[str] = Counter()
    started = time.process_time()
    for start in range(0, len(records), BATCH):
        decoded, dead = decode_records(
            records[start : start + BATCH], accepts, DEFAULT_MAX_EVENT_BYTES, unknown
        )
        if dead:
            raise RuntimeError(f"{stream.value}: the workload holds invalid events: {dead[0]}")
        del decoded
    return (time.process_time() - started) / len(records) * 1e6


def measure(stream: Stream, events: int, repeat: int) -> list[float]:
    """Microseconds per event for each of ``repeat`` passes over the same records."""
    records = workload_records(stream, events)
    tune_garbage_collector()
    cpu_per_event(stream, records[:BATCH])  # warm caches and lazily built validators
    return [cpu_per_event(stream, records) for _ in range(repeat)]


def workload_arguments(
    description: str, per_pass: str, argv: Sequence[str] | None
) -> tuple[list[Stream], int, int]:
    """(streams, events per pass, passes) from the command line of a workload measurement."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--events", type=int, default=50_000, help=f"{per_pass} per pass")
    parser.add_argument("--repeat", type=int, default=7, help="passes")
    parser.add_argument(
        "--stream", choices=[s.value for s in Stream], action="append", help="default: all"
    )
    args = parser.parse_args(argv)
    if args.events < 1 or args.repeat < 1:
        parser.error("--events and --repeat must be at least 1")
    return (
        [Stream(name) for name in args.stream or [s.value for s in Stream]],
        args.events,
        args.repeat,
    )


def main(argv: Sequence[str] | None = None) -> None:
    streams, events, repeat = workload_arguments(__doc__.splitlines()[0], "events", argv)
    for stream in streams:
        runs = measure(stream, events, repeat)
        spread = f"{min(runs):.2f}-{max(runs):.2f}"
        print(f"{stream.value:8} median {statistics.median(runs):6.2f} us/event (range {spread})")


if __name__ == "__main__":
    main()
