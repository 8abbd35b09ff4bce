"""The engine's machinery on its own: the failure policy, the write gate, the idle
audit's schedule, and a rebalance's trim of a decoded batch."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from consumer import decoding
from consumer.batching import Batch, BatchLimits
from consumer.coordinates import TopicPartition
from consumer.engine.audit import AUDIT_INTERVAL_S, PositionAudit
from consumer.engine.failure import Action, action_for
from consumer.engine.gate import WriteGate
from consumer.errors import (
    BreakerOpen,
    DatabaseContention,
    DatabaseUnavailable,
    DeploymentError,
    PositionConflict,
    UnexplainedFailure,
)
from schemas import REGISTRY, Stream
from tests.support import events as ev
from tests.unit.helpers import record

P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


async def one_turn() -> None:
    """Let every ready task run up to its next wait: one turn of the event loop, not a
    wait on time."""
    await asyncio.sleep(0)


@pytest.mark.parametrize(
    ("error", "action"),
    [
        (DatabaseUnavailable("down"), Action.RETRY),
        (DatabaseContention("deadlock"), Action.RETRY),
        (UnexplainedFailure("odd"), Action.RETRY),
        (PositionConflict("moved"), Action.REPOSITION),
        (BreakerOpen("dead letters"), Action.WAIT_FOR_BREAKER),
        (DeploymentError("permission denied", "42501"), Action.STOP),
        (RuntimeError("a bug"), Action.STOP),
    ],
)
def test_each_error_is_classified_once_into_one_action(error: Exception, action: Action) -> None:
    assert action_for(error) is action


async def test_a_closed_gate_waits_for_writes_and_holds_new_ones_back() -> None:
    gate, order = WriteGate(), []
    release_first = asyncio.Event()

    async def write(name: str, until: asyncio.Event | None = None) -> None:
        async with gate.writing():
            order.append(f"{name} starts")
            if until is not None:
                await until.wait()
            order.append(f"{name} ends")

    async def rebalance() -> None:
        async with gate.closed():
            assert gate.abandon
            order.append("rebalance")

    first = asyncio.create_task(write("first", release_first))
    await one_turn()
    closing = asyncio.create_task(rebalance())
    await one_turn()
    second = asyncio.create_task(write("second"))
    await one_turn()
    assert order == ["first starts"]
    release_first.set()
    await asyncio.gather(first, closing, second)
    assert order == ["first starts", "first ends", "rebalance", "second starts", "second ends"]
    assert not gate.abandon


def test_the_idle_audit_is_due_once_per_interval() -> None:
    now = [100.0]
    audit = PositionAudit(Any, Any, "g", {}, clock=lambda: now[0])  # type: ignore[arg-type]
    assert not audit.due()
    now[0] += AUDIT_INTERVAL_S - 0.1
    assert not audit.due()
    now[0] += 0.1
    assert audit.due()
    assert not audit.due()
    now[0] += AUDIT_INTERVAL_S
    assert audit.due()


def test_a_rebalance_trims_the_decoded_batch_without_decoding_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    batch = Batch(BatchLimits(100, 10**9, 60))
    batch.extend(P0, [record(ev.metric("a", "b", float(i)), i, 0) for i in range(4)])
    batch.extend(P1, [record(ev.metric("a", "b", 1.0), 7, 1), record(b"{", 8, 1)])
    work = decoding.decode_batch(batch, REGISTRY.accepts(Stream.METRICS), 10_000)

    def no_decoding(*_: object, **__: object) -> None:
        raise AssertionError("decoded again")

    monkeypatch.setattr(decoding, "decode_records", no_decoding)
    assert work.owned({P0: 0, P1: None}) is work
    trimmed = work.owned({P0: 2})
    assert [d.record.offset for d in trimmed.decoded] == [2, 3]
    assert not trimmed.dead
    assert list(trimmed.batch.parts) == [P0] and len(trimmed.batch) == 2
    other = work.owned({P1: 8})
    assert not other.decoded
    assert [d.record.id.offset for d in other.dead] == [8]


async def test_a_batch_is_decoded_in_slices_whole_and_in_order() -> None:
    """The decode that yields to the event loop reads every record of every partition
    once, in the batch's order, whatever the slice boundaries."""
    count = decoding.DECODE_SLICE + 3
    batch = Batch(BatchLimits(10_000, 10**9, 60))
    batch.extend(P0, [record(ev.metric("a", "b", float(i)), i, 0) for i in range(count)])
    batch.extend(P1, [record(b"{", 0, 1), record(ev.metric("a", "b", 1.0), 1, 1)])
    work = await decoding.decode_batch_yielding(batch, REGISTRY.accepts(Stream.METRICS), 10_000)
    assert [(d.record.partition, d.record.offset) for d in work.decoded] == [
        *((0, offset) for offset in range(count)),
        (1, 1),
    ]
    assert [d.record.id for d in work.dead] == [("t", 1, 0)]
