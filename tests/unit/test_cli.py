"""The command line: bad arguments get one line and a non-zero exit; schemas export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

UNREACHABLE_DATABASE = "postgresql://nobody@127.0.0.1:1/none"


def utxoiq(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "consumer.cli.main", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


@pytest.mark.parametrize(
    "args",
    [
        ("consume", "--pipeline", "nope"),
        ("query", "jobs", "--limit", "abc"),
        ("no-such-command",),
        ("db", "upgrade", "--bogus"),
        ("db", "downgrade"),
        ("dlq", "list", "--limit", "0"),
        ("dlq", "export", "--limit", "-1"),
    ],
)
def test_bad_arguments_get_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    """Refused before any connection: the database address given leads nowhere, so a
    command that went ahead could not change a real one."""
    result = utxoiq(*args, env={**os.environ, "DATABASE_URL": UNREACHABLE_DATABASE})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("utxoiq: error: ")
    assert "Traceback" not in result.stderr


def test_a_bad_setting_names_the_variable_in_one_line() -> None:
    env = {**os.environ, "UTXOIQ_BATCH_MAX_RECORDS": "lots"}
    result = utxoiq("consume", env=env)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "batch_max_records" in result.stderr.lower()


def test_schemas_export_writes_one_json_schema_per_event_type(tmp_path: Path) -> None:
    result = utxoiq("schemas", "export", str(tmp_path / "out"))
    assert result.returncode == 0, result.stderr
    schemas = sorted((tmp_path / "out").glob("*.schema.json"))
    assert [p.name.removesuffix(".schema.json") for p in schemas] == sorted(
        [
            "utxoiq.backfill.job.created",
            "utxoiq.backfill.job.progress",
            "utxoiq.backfill.job.completed",
            "utxoiq.backfill.job.failed",
            "utxoiq.insight.feedback.submitted",
            "utxoiq.system.metric.recorded",
        ]
    )
    rating = json.loads(
        (tmp_path / "out/utxoiq.insight.feedback.submitted.schema.json").read_text()
    )
    assert (
        rating["$id"] == "https://utxoiq.dev/schemas/utxoiq.insight.feedback.submitted.schema.json"
    )
    data = rating["$defs"]["FeedbackSubmittedData"]
    assert data["additionalProperties"] is True
    assert (data["properties"]["rating"]["minimum"], data["properties"]["rating"]["maximum"]) == (
        1,
        5,
    )


def test_publish_check_refuses_a_bad_line_naming_line_and_field(tmp_path: Path) -> None:
    good = (
        '{"specversion": "1.0", "id": "6f1c3a52-4b43-4f55-9f43-3b0b2c1e9a10", "source": "/t",'
        ' "type": "utxoiq.system.metric.recorded", "time": "2026-11-28T00:00:00Z",'
        ' "data": {"service_name": "api", "metric_type": "cpu", "value": 1.5, "unit": "%"}}'
    )
    bad = good.replace('"value": 1.5', '"value": "high"')
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join([good, good, bad]) + "\n")
    result = utxoiq("publish", "--check", str(path))
    assert result.returncode == 1
    assert "line 3" in result.stderr
    assert "data.value" in result.stderr


def test_schemas_export_to_a_file_says_it_is_a_file(tmp_path: Path) -> None:
    """A path that is a file, or runs through one, is a file-system error, not a
    connection failure."""
    target = tmp_path / "schemas.json"
    target.write_text("")
    for path, expected in (
        (target, f"{target} is a file, not a folder: give a folder to write into"),
        (target / "sub", f"cannot create folder {target / 'sub'}: a part of the path is a file"),
    ):
        result = utxoiq("schemas", "export", str(path))
        assert result.returncode == 1
        assert result.stderr == f"utxoiq: error: {expected}\n"


def test_publish_of_a_folder_is_refused_as_a_folder(tmp_path: Path) -> None:
    result = utxoiq("publish", "--check", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == (
        f"utxoiq: error: {tmp_path} is a folder, not a file: give the path of an NDJSON file\n"
    )
    missing = utxoiq("publish", "--check", str(tmp_path / "none.ndjson"))
    assert missing.stderr == f"utxoiq: error: no such file: {tmp_path / 'none.ndjson'}\n"


@pytest.mark.parametrize(
    "command", [(), ("replay",), ("dlq", "list"), ("query", "feedback"), ("publish",)]
)
def test_help_shows_no_type_placeholder_on_flags(command: tuple[str, ...]) -> None:
    shown = utxoiq(*command, "--help")
    assert shown.returncode == 0, shown.stderr
    assert "--help" in shown.stdout
    assert "<bool>" not in shown.stdout


def test_query_time_options_are_checked_like_dlq_ones() -> None:
    """The same bad time gets the same one line from ``query`` as from ``dlq``."""
    query = utxoiq("query", "feedback", "--since", "soon")
    dlq = utxoiq("dlq", "list", "--since", "soon")
    assert query.returncode == dlq.returncode == 2
    assert query.stderr == dlq.stderr
    assert "not a time: 'soon'" in query.stderr and "2h" in query.stderr


def test_publish_check_refuses_nul_and_names_bad_utf8(tmp_path: Path) -> None:
    good = (
        '{"specversion": "1.0", "id": "6f1c3a52-4b43-4f55-9f43-3b0b2c1e9a10", "source": "/t",'
        ' "type": "utxoiq.system.metric.recorded", "time": "2026-11-28T00:00:00Z",'
        ' "data": {"service_name": "api", "metric_type": "cpu", "value": 1.5, "unit": "%"}}'
    )
    nul = tmp_path / "nul.ndjson"
    nul.write_text(good.replace('"api"', '"a\\u0000pi"') + "\n")
    result = utxoiq("publish", "--check", str(nul))
    assert result.returncode == 1
    assert (
        "line 1" in result.stderr and "data.service_name: must not contain U+0000" in result.stderr
    )
    latin = tmp_path / "latin.ndjson"
    latin.write_bytes(good.replace('"api"', '"caf\xe9"').encode("latin-1") + b"\n")
    result = utxoiq("publish", "--check", str(latin))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "not UTF-8" in result.stderr


def test_every_dead_letter_command_checks_its_filter_the_same_way() -> None:
    """The filter options are stated once: a bad stage is one line, exit 2, in each
    command that takes them, before any connection is tried."""
    for command in (["stats"], ["list"], ["export"], ["redrive"], ["discard", "--reason", "r"]):
        result = utxoiq("dlq", *command, "--stage", "nope")
        assert result.returncode == 2, (command, result.stderr)
        assert result.stderr.count("\n") == 1 and "unknown stage 'nope'" in result.stderr


def test_an_export_that_fails_leaves_the_file_it_would_replace(tmp_path: Path) -> None:
    target = tmp_path / "dead.ndjson"
    target.write_text("an earlier export\n")
    unreachable = {**os.environ, "DATABASE_URL": UNREACHABLE_DATABASE}
    result = utxoiq("dlq", "export", "--output", str(target), env=unreachable)
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and "cannot reach PostgreSQL" in result.stderr
    assert target.read_text() == "an earlier export\n"
    assert [p.name for p in tmp_path.iterdir()] == ["dead.ndjson"]
