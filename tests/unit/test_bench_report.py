"""The benchmark's figures on the terminal and in JSON, and the targets they meet."""

from __future__ import annotations

import pytest

from consumer.bench.database import bench_database_name, with_database
from consumer.bench.process import parse_log_line
from consumer.bench.report import number, table_rows
from consumer.bench.results import Ceilings, Drain, Latency, PipelineResult, Rate
from consumer.cli.bench import parse_pipelines
from schemas.topics import Stream


def metrics_result(drain_rate: float = 120_000.0) -> PipelineResult:
    return PipelineResult(
        "metrics",
        200_000,
        drain=Drain(Rate(200_000, 200_000 / drain_rate, cpu_seconds=1.6), batches=40),
        latency=Latency(60_000.0, 900_000, 15.0, 80.0, 240.0, 400.0),
        peak_rss_bytes=150 * 2**20,
        ceilings=Ceilings(
            fetch_only=Rate(200_000, 1.0),
            decode_only=Rate(200_000, 0.8, 0.8),
            write_only=Rate(200_000, 200_000 / 150_000),
            naive=Rate(5_000, 2.0),
        ),
    )


def test_targets_of_a_run_that_meets_them_all() -> None:
    result = metrics_result()
    checks = {c.name: c for c in result.checks()}
    assert all(c.passed for c in checks.values())
    assert checks["drain / min(fetch-only, write-only)"].value == pytest.approx(0.8)
    assert checks["drain / naive baseline"].value == pytest.approx(48.0)


def test_a_slow_drain_fails_its_targets() -> None:
    failed = {c.name for c in metrics_result(50_000.0).checks() if c.passed is False}
    assert failed == {
        "drain rate",
        "drain / min(fetch-only, write-only)",
        "drain / naive baseline",
    }


def test_feedback_and_jobs_are_held_to_60k_and_not_to_the_ceiling_ratio() -> None:
    result = metrics_result(70_000.0)
    result.pipeline = "jobs"
    checks = {c.name: c for c in result.checks()}
    assert checks["drain rate"].bar == 60_000
    assert checks["drain rate"].passed
    assert "drain / min(fetch-only, write-only)" not in checks


def test_figures_not_measured_are_neither_passed_nor_failed() -> None:
    result = PipelineResult("feedback", 10)
    assert all(c.passed is None for c in result.checks())
    cells = dict(table_rows([result]))
    assert cells["event age p99, ms (<=250)"] == ["-"]
    assert cells["drain rate, events/s (>=100k metrics, >=60k others)"] == ["-"]


def test_table_has_one_cell_per_pipeline_with_verdicts() -> None:
    slow = metrics_result(50_000.0)
    slow.pipeline = "feedback"
    rows = dict(table_rows([metrics_result(), slow]))
    assert rows["drain rate, events/s (>=100k metrics, >=60k others)"] == [
        "120,000 PASS",
        "50,000 FAIL",
    ]
    assert rows["drain / min(fetch, write) (>=0.7 metrics)"] == ["0.80 PASS", "0.33"]
    assert rows["event age p99, ms (<=250)"] == ["240 PASS", "240 PASS"]
    assert rows["peak RSS, MiB (<=200)"] == ["150.0 PASS", "150.0 PASS"]
    assert rows["CPU s per million events"] == ["8.0", "8.0"]
    assert rows["batches (mean records)"] == ["40 (mean 5,000)", "40 (mean 5,000)"]


def test_json_carries_every_figure_and_verdict() -> None:
    data = metrics_result().as_dict()
    assert data["drain"]["events_per_second"] == 120_000.0
    assert data["drain"]["cpu_seconds_per_million_events"] == 8.0
    assert data["latency"]["p99_ms"] == 240.0
    assert data["latency"]["achieved_rate"] == 60_000.0
    assert data["ceilings"]["naive_baseline"]["events_per_second"] == 2_500.0
    assert data["ratios"]["drain_over_naive"] == 48.0
    assert {t["name"]: t["passed"] for t in data["targets"]}["peak RSS"] is True
    assert {t["name"]: t["bar"] for t in data["targets"]}["p99 event age at commit"] == "<=250"


def test_numbers_are_grouped_and_missing_ones_shown_as_a_dash() -> None:
    assert number(1234567.8) == "1,234,568"
    assert number(0.456, 2) == "0.46"
    assert number(None) == "-"
    assert number(float("nan")) == "-"


def test_pipelines_are_parsed_from_lists_and_repeats_in_a_fixed_order() -> None:
    assert parse_pipelines(["jobs,metrics"]) == [Stream.METRICS, Stream.JOBS]
    assert parse_pipelines(["feedback", " Jobs "]) == [Stream.FEEDBACK, Stream.JOBS]
    assert parse_pipelines(None) == [Stream.METRICS, Stream.FEEDBACK, Stream.JOBS]


def test_an_unknown_pipeline_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_pipelines(["metrics,nope"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "utxoiq: error: unknown pipeline 'nope' (one of metrics, feedback, jobs)"
    )


def test_the_bench_database_sits_beside_the_configured_one() -> None:
    assert bench_database_name("utxoiq") == "utxoiq_bench"
    assert bench_database_name("utxoiq_bench") == "utxoiq_bench"
    assert bench_database_name("workbench") == "workbench_bench"
    assert bench_database_name("BenchDB") == "BenchDB_bench"
    url = "postgresql://u:p@db:5432/utxoiq?sslmode=require"
    assert (
        with_database(url, "utxoiq_bench")
        == "postgresql://u:p@db:5432/utxoiq_bench?sslmode=require"
    )


def test_log_lines_of_the_service_are_parsed_and_others_ignored() -> None:
    line = b'{"ts": "2026-01-01T00:00:01.250+00:00", "msg": "batch committed", "records": 5}'
    event = parse_log_line(line)
    assert event is not None
    assert event.message == "batch committed"
    assert event.fields["records"] == 5
    assert event.at == pytest.approx(1767225601.25)
    assert parse_log_line(b"Traceback (most recent call last):") is None
    assert parse_log_line(b"[1, 2]") is None
