"""The dead-letter breaker recovers: a burst of poison then good records drains without
anyone's help, and an operator's close lets every member go on at once."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from consumer.settings import Settings
from schemas.topics import Stream
from tests.support import events as ev
from tests.support.drain import wait_drained
from tests.support.running import run_utxoiq, running_service
from tests.support.waiting import wait_until

COOLDOWN_S = 3.0


async def _send(producer: AIOKafkaProducer, topic: str, values: list[bytes], **where: int) -> None:
    futures = [await producer.send(topic, value, **where) for value in values]
    await asyncio.gather(*futures)


def _good(count: int) -> list[bytes]:
    return [ev.to_bytes(ev.metric("svc", "cpu", float(n))) for n in range(count)]


def _poison(count: int) -> list[bytes]:
    return [b"not json %d" % n for n in range(count)]


async def test_a_burst_of_poison_then_good_records_drains_within_two_cool_downs(
    make_settings: Callable[..., Settings],
    producer: AIOKafkaProducer,
    clean_db: asyncpg.Pool,
) -> None:
    """1,500 invalid records then 300 good ones in one partition trip the breaker; it
    half-opens after its cool-down, and everything is dead-lettered or applied within
    two cool-downs of the trip, without a restart or a command."""
    settings = make_settings(breaker_cooldown_s=COOLDOWN_S, batch_max_records=400)
    topic = settings.topics.metrics
    async with running_service(settings, [Stream.METRICS]) as service:
        await _send(producer, topic, [*_poison(1500), *_good(300)], partition=0)

        async def tripped() -> bool:
            return service.statuses()[0].breaker_open

        await wait_until(tripped, within=60, what="the breaker to open")
        opened = time.monotonic()
        await wait_drained(clean_db, settings, [Stream.METRICS], within=2 * COOLDOWN_S + 30)
        drained_after = time.monotonic() - opened
        assert not service.statuses()[0].breaker_open
    assert drained_after < 2 * COOLDOWN_S + 30
    assert await clean_db.fetchval("SELECT count(*) FROM system_metrics") == 300
    assert await clean_db.fetchval("SELECT count(*) FROM dead_letters") == 1500
    states = await clean_db.fetch("SELECT state FROM breaker_states")
    assert [r["state"] for r in states] in (["half_open"], ["closed"])


async def test_an_operators_close_lets_every_member_go_on_at_once(
    make_settings: Callable[..., Settings],
    producer: AIOKafkaProducer,
    clean_db: asyncpg.Pool,
) -> None:
    """With a cool-down of an hour, two members' breakers open on a poison burst;
    ``utxoiq breaker status`` shows them open, ``utxoiq breaker close`` closes both,
    and the rest drains."""
    settings = make_settings(
        breaker_cooldown_s=3600, breaker_window=100, batch_max_records=20, write_lanes=1
    )
    topic = settings.topics.metrics
    async with contextlib.AsyncExitStack() as stack:
        members = [
            await stack.enter_async_context(running_service(settings, [Stream.METRICS]))
            for _ in range(2)
        ]
        for partition in range(6):
            await _send(producer, topic, _poison(40), partition=partition)
            await _send(producer, topic, _good(20), partition=partition)

        async def both_open() -> bool:
            return all(m.statuses()[0].breaker_open for m in members)

        await wait_until(both_open, within=60, what="both members' breakers to open")
        code, out, err = await run_utxoiq(settings, "breaker", "status", "--pipeline", "metrics")
        assert code == 0, err
        assert out.splitlines()[0].endswith(": open"), out
        assert out.count(" open ") >= 2, out

        code, out, err = await run_utxoiq(settings, "breaker", "close", "--pipeline", "metrics")
        assert code == 0, err
        await wait_drained(clean_db, settings, [Stream.METRICS], within=60)
        assert not any(m.statuses()[0].breaker_open for m in members)
        code, out, err = await run_utxoiq(
            settings, "breaker", "status", "--pipeline", "metrics", "--json"
        )
        assert code == 0, err
        status = orjson.loads(out)
        assert status["state"] == "closed"
        assert len(status["members"]) == 2, status
    assert await clean_db.fetchval("SELECT count(*) FROM system_metrics") == 6 * 20
    assert await clean_db.fetchval("SELECT count(*) FROM dead_letters") == 6 * 40
