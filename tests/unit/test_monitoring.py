"""The dashboard, the alert rules and the compose monitoring profile hang together."""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import pytest
import yaml

from consumer.settings import IngestSettings
from tests.support.monitoring import (
    DASHBOARD,
    PROMETHEUS,
    RULES,
    dashboard,
    dashboard_expressions,
    dashboard_panels,
    metric_names,
    rule_expressions,
    rule_groups,
    served_series,
)
from tests.support.services import REPO

PORT = IngestSettings.model_fields["http_port"].default
WATCHED = {
    "utxoiq_records_total",
    "utxoiq_consumer_lag_records",
    "utxoiq_event_age_at_commit_seconds_bucket",
    "utxoiq_batch_write_seconds_bucket",
    "utxoiq_dead_letters_total",
    "utxoiq_retries_total",
    "utxoiq_retry_budget_exhausted_total",
    "utxoiq_dead_letter_breaker_open",
    "utxoiq_paused_partitions",
}
"""What the dashboard must show: rates by outcome, lag, event age, batch write time, dead
letters by stage, retries, the breaker, paused partitions."""


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("promtool")
    if binary is None:
        pytest.fail("promtool is missing: `make promtool` (or `make test`) installs it", False)
    return subprocess.run(
        [binary, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_accepts_the_rules_and_the_config() -> None:
    for args in (("check", "rules", RULES.name), ("check", "config", "prometheus.yml")):
        done = promtool(*args)
        assert done.returncode == 0, done.stdout + done.stderr


def test_each_alert_fires_on_its_scenario_and_only_there() -> None:
    done = promtool("test", "rules", "alerts.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_alerts_cover_what_operators_are_paged_for() -> None:
    alerts = {rule["alert"]: rule for group in rule_groups() for rule in group["rules"]}
    assert {
        "UtxoiqConsumerLagGrowing",
        "UtxoiqNoProgress",
        "UtxoiqDeadLetterBreakerOpen",
        "UtxoiqRetryBudgetExhausted",
        "UtxoiqDeadLettersHigh",
    } <= set(alerts)
    for name, rule in alerts.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, name
        assert "pipeline" in rule["annotations"]["summary"], name


def test_the_kubernetes_rule_holds_the_same_groups() -> None:
    resource = yaml.safe_load((REPO / "deploy" / "k8s" / "prometheus-rule.yaml").read_text())
    assert resource["kind"] == "PrometheusRule"
    assert resource["apiVersion"] == "monitoring.coreos.com/v1"
    assert resource["spec"]["groups"] == rule_groups()
    kustomization = yaml.safe_load((REPO / "deploy" / "k8s" / "kustomization.yaml").read_text())
    assert "prometheus-rule.yaml" in kustomization["resources"]


def test_the_dashboard_shows_what_people_watch() -> None:
    board = dashboard()
    assert board["uid"] == "utxoiq-ingest"
    assert metric_names(dashboard_expressions()) >= WATCHED
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"] for v in board["templating"]["list"]}
    assert variables == {"datasource", "pipeline"}
    for panel in dashboard_panels():
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        for target in panel["targets"]:
            assert 'pipeline=~"$pipeline"' in target["expr"], panel["title"]


def test_series_names_follow_the_exposition_types() -> None:
    exposition = "# TYPE a_total counter\n# TYPE b_seconds histogram\n# TYPE c gauge\n"
    assert {"a_total", "b_seconds_bucket", "b_seconds_count", "c"} <= served_series(exposition)
    assert metric_names(['rate(utxoiq_x_total[5m]) / utxoiq_y{a="utxoiq_z"}']) >= {
        "utxoiq_x_total",
        "utxoiq_y",
    }
    assert metric_names(rule_expressions())


def test_compose_monitoring_profile(compose: dict[str, Any]) -> None:
    services = compose["services"]
    prometheus, grafana = services["prometheus"], services["grafana"]
    assert prometheus["profiles"] == grafana["profiles"] == ["monitoring"]
    assert all(
        "profiles" not in s for n, s in services.items() if n not in {"prometheus", "grafana"}
    )
    assert prometheus["ports"] == ["127.0.0.1:9090:9090"]
    assert grafana["ports"] == ["127.0.0.1:3000:3000"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prometheus["command"]
    mounts = {
        name: {v.split(":")[1]: v.split(":")[0] for v in s["volumes"] if v.startswith("./")}
        for name, s in (("prometheus", prometheus), ("grafana", grafana))
    }
    for name, paths in mounts.items():
        for host in paths.values():
            assert (REPO / host).exists(), f"{name} mounts {host}, which does not exist"
    assert (
        mounts["prometheus"]["/etc/prometheus/prometheus.yml"]
        == "./deploy/prometheus/prometheus.yml"
    )
    assert mounts["prometheus"]["/etc/prometheus/alerts.yml"] == "./deploy/prometheus/alerts.yml"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    dashboards = mounts["grafana"]["/var/lib/grafana/dashboards"]
    assert (REPO / dashboards / home.rsplit("/", 1)[1]) == DASHBOARD
    assert mounts["grafana"]["/etc/grafana/provisioning"] == "./deploy/grafana/provisioning"


def test_prometheus_scrapes_every_consumer_of_compose(compose: dict[str, Any]) -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    targets = {
        t for job in config["scrape_configs"] for s in job["static_configs"] for t in s["targets"]
    }
    consumers = {
        name for name, s in compose["services"].items() if s.get("command", [""])[0] == "consume"
    }
    assert targets == {f"{name}:{PORT}" for name in consumers}
    datasource = yaml.safe_load(
        (
            REPO / "deploy" / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
        ).read_text()
    )["datasources"][0]
    assert datasource["url"] == "http://prometheus:9090"
