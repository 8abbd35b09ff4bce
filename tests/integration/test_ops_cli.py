"""Operator commands given bad arguments end with one line on stderr, never a traceback."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from aiokafka.admin import NewTopic
from typer.testing import CliRunner

from consumer.cli.main import app
from consumer.ops.kafka import admin
from consumer.settings import Settings
from tests.support.running import run_utxoiq

USAGE = [
    (("replay", "--pipeline", "jobs"), "exactly one of --to-earliest"),
    (("replay", "-p", "jobs", "--to-latest", "--to-offset", "3"), "exactly one of"),
    (("replay", "-p", "orders", "--to-latest"), "unknown pipeline 'orders'"),
    (("replay", "-p", "jobs", "--to-datetime", "yesterday"), "--to-datetime: not a time"),
    (("replay", "-p", "jobs", "--to-latest", "--partitions", "1-x"), "--partitions"),
    (("replay", "-p", "jobs", "--to-offset", "-4"), "must not be negative"),
    (("dlq", "show", "no-coordinates"), "expected TOPIC:PARTITION:OFFSET"),
    (("dlq", "list", "--status", "lost"), "unknown status 'lost'"),
    (("dlq", "list", "--stage", "write"), "unknown stage 'write'"),
    (("dlq", "redrive", "--since", "last week"), "--since: not a time"),
    (("dlq", "redrive", "--max-redrives", "0"), "--max-redrives must be at least 1"),
    (("dlq", "export", "--from-topic"), "--from-topic needs --topic"),
]

REFUSED = [
    (("replay", "-p", "jobs", "--to-latest", "--partitions", "9"), "no partition 9"),
    (("dlq", "show", "t-none.jobs:0:99"), "no dead letter t-none.jobs:0:99"),
    (("dlq", "discard", "--reason", " "), "a discard needs a reason"),
]


@pytest.mark.parametrize(("args", "message"), USAGE)
def test_bad_arguments_get_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    """A malformed replay or dlq invocation exits 2 with one `utxoiq: error:` line."""
    result = CliRunner().invoke(app, list(args))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith("utxoiq: error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr


async def run_cli(settings: Settings, args: tuple[str, ...]) -> tuple[int, str]:
    code, _, err = await run_utxoiq(settings, *args)
    return code, err


async def test_refused_operations_get_one_line_and_exit_1(
    settings: Settings, clean_db: asyncpg.Pool
) -> None:
    """A well-formed invocation that the broker or database state refuses exits 1 with
    one `utxoiq: error:` line saying why."""
    async with admin(settings) as client:
        await client.create_topics([NewTopic(settings.topics.jobs, 3, 1)])
    results = await asyncio.gather(*(run_cli(settings, args) for args, _ in REFUSED))
    for (args, message), (code, err) in zip(REFUSED, results, strict=True):
        assert (code, err.count("\n")) == (1, 1), (args, err)
        assert err.startswith("utxoiq: error: ") and message in err, (args, err)
