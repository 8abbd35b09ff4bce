"""``utxoiq publish``: validate events from NDJSON and publish them keyed by entity."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import IO

import typer
from aiokafka import AIOKafkaProducer

from consumer.cli.common import load_settings, run
from consumer.cli.errors import fail
from consumer.settings import Settings
from consumer.topics_admin import start_or_close
from schemas.codec import EVENT_ADAPTER, EventRejected, decode, encode
from schemas.topics import record_key, stream_of


def publish(
    source: Path = typer.Argument(
        Path("-"), help="NDJSON file with one event per line; '-' reads standard input."
    ),
    check: bool = typer.Option(False, "--check", help="Validate only; send nothing."),
) -> None:
    """Validate every line, report bad ones by line number, publish the good ones."""
    settings = load_settings()
    if str(source) == "-":
        refused, sent = run(_publish(settings, sys.stdin, check))
    else:
        if not source.is_file():
            fail(f"no such file: {source}")
        with source.open(encoding="utf-8", errors="surrogateescape") as stream:
            refused, sent = run(_publish(settings, stream, check))
    summary = ", ".join(f"{topic}: {n}" for topic, n in sorted(sent.items())) or "nothing"
    typer.echo(
        f"{'valid' if check else 'sent'}: {sum(sent.values())} ({summary}); refused: {refused}"
    )
    if refused:
        raise typer.Exit(1)


async def _publish(settings: Settings, lines: IO[str], check: bool) -> tuple[int, Counter[str]]:
    producer = None
    if not check:
        producer = AIOKafkaProducer(
            acks="all", enable_idempotence=True, **settings.kafka.client_options()
        )
        await start_or_close(producer)
    refused = 0
    sent: Counter[str] = Counter()
    try:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                event = decode(line.encode("utf-8", "surrogateescape"), EVENT_ADAPTER)
            except EventRejected as exc:
                refused += 1
                typer.echo(f"line {number}: {exc}", err=True)
                continue
            topic = settings.topics.source(stream_of(event))
            if producer is not None:
                await producer.send(topic, encode(event), key=record_key(event).encode())
            sent[topic] += 1
        if producer is not None:
            await producer.flush()
    finally:
        if producer is not None:
            await producer.stop()
    return refused, sent
