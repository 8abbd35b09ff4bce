"""docker-compose.yml and deploy/k8s agree with the settings: names, variables, ports, topics."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumer.settings import (
    DatabaseSettings,
    IngestSettings,
    KafkaSettings,
    MetricsRetentionSettings,
    Settings,
    TopicSettings,
    env_name,
)
from consumer.topics_admin import DLQ_MAX_MESSAGE_BYTES
from schemas.topics import CONTRACTS, Stream, dlq_topic

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
DRIVER_VARIABLES = {"PGSSLROOTCERT"}
"""Read by the PostgreSQL driver itself (the CA for SQLAlchemy connections)."""
DEFAULTS = IngestSettings.model_construct()
PORT = IngestSettings.model_fields["http_port"].default


def settings_variables() -> set[str]:
    models = (
        KafkaSettings,
        DatabaseSettings,
        TopicSettings,
        IngestSettings,
        MetricsRetentionSettings,
    )
    return {env_name(model, field) for model in models for field in model.model_fields}


@cache
def documents() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        found.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return found


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in documents() if doc["kind"] == kind]


def named(kind: str, name: str) -> dict[str, Any]:
    matches = [doc for doc in of_kind(kind) if doc["metadata"]["name"] == name]
    assert len(matches) == 1, f"one {kind} {name}"
    return matches[0]


def config() -> dict[str, str]:
    data: dict[str, str] = named("ConfigMap", "utxoiq-ingest")["data"]
    return data


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in of_kind("Deployment") + of_kind("Job"):
        yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def topic_resources() -> dict[str, dict[str, Any]]:
    return {doc["spec"]["topicName"]: doc["spec"] for doc in of_kind("KafkaTopic")}


def pipeline_of(deployment: dict[str, Any]) -> Stream:
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert args[:2] == ["consume", "--pipeline"]
    return Stream(args[2])


def expected_partitions(stream: Stream) -> int:
    if stream is Stream.METRICS:
        return DEFAULTS.metrics_partitions
    return DEFAULTS.default_partitions


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    return loaded


def ingest_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: service
        for name, service in compose["services"].items()
        if service.get("image", "").startswith("utxoiq-ingest")
    }


def test_every_manifest_parses_and_is_named() -> None:
    docs = documents()
    assert len(docs) >= 20
    for doc in docs:
        assert doc["apiVersion"]
        assert doc["metadata"]["name"]


def test_kustomization_lists_every_manifest_but_the_job_and_examples() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk - {"migration-job.yaml", "secrets.example.yaml"}
    assert kustomization["images"][0]["name"] == "utxoiq-ingest"


def test_variables_exist_in_settings(compose: dict[str, Any]) -> None:
    known = settings_variables() | DRIVER_VARIABLES
    assert set(config()) <= known
    for name, spec in pod_specs():
        for container in spec["containers"]:
            assert {e["name"] for e in container.get("env", [])} <= known, name
    for name, service in ingest_services(compose).items():
        assert set(service["environment"]) <= known, name


def use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, Any]) -> None:
    for name in settings_variables():
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, str(value))


def test_configured_values_pass_validation(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    use_env(monkeypatch, config())
    assert IngestSettings().group_prefix == "utxoiq-ingest"
    assert TopicSettings().metrics == CONTRACTS[Stream.METRICS].default_topic
    for service in ingest_services(compose).values():
        environment = service["environment"]
        url = environment["DATABASE_URL"].replace("${POSTGRES_PASSWORD:-utxoiq}", "pw")
        use_env(monkeypatch, {**environment, "DATABASE_URL": url})
        assert Settings().kafka.bootstrap_servers == "kafka:9092"


def test_topics_and_dead_letter_topics_match_the_defaults() -> None:
    topics = topic_resources()
    for stream, contract in CONTRACTS.items():
        source = contract.default_topic
        assert config()[env_name(TopicSettings, stream.value)] == source
        assert topics[source]["partitions"] == expected_partitions(stream)
        dlq = topics[dlq_topic(source)]
        assert dlq["partitions"] == expected_partitions(stream)
        assert dlq["config"]["max.message.bytes"] == DLQ_MAX_MESSAGE_BYTES == 2_097_152
    assert len(topics) == 2 * len(CONTRACTS)


def test_one_deployment_per_pipeline_with_probes_on_the_settings_port() -> None:
    deployments = of_kind("Deployment")
    assert sorted(pipeline_of(d) for d in deployments) == sorted(Stream)
    assert config()["UTXOIQ_HTTP_PORT"] == str(PORT)
    for deployment in deployments:
        spec = deployment["spec"]["template"]["spec"]
        container = spec["containers"][0]
        assert container["ports"] == [{"name": "http-metrics", "containerPort": PORT}]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        shutdown = float(config()["UTXOIQ_SHUTDOWN_TIMEOUT_S"])
        assert spec["terminationGracePeriodSeconds"] > shutdown
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == 0


def test_service_and_budgets_select_the_pods() -> None:
    service = named("Service", "utxoiq-ingest-metrics")["spec"]
    assert service["ports"][0]["port"] == PORT
    budgets = {
        b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        for b in of_kind("PodDisruptionBudget")
    }
    assert budgets == {s.value for s in Stream}
    for deployment in of_kind("Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert service["selector"].items() <= labels.items()
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_secret_and_config_references_resolve() -> None:
    secrets = {s["metadata"]["name"]: s["stringData"] for s in of_kind("Secret")}
    for name, spec in pod_specs():
        for container in spec["containers"]:
            for env in container.get("env", []):
                ref = env.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secrets[ref["name"]], name
            for source in container.get("envFrom", []):
                assert named("ConfigMap", source["configMapRef"]["name"])
    for ref in named("TriggerAuthentication", "utxoiq-ingest-kafka")["spec"]["secretTargetRef"]:
        assert ref["name"] in {*secrets, "utxoiq-kafka-cluster-ca-cert"}


def test_partition_maintenance_runs_hourly_one_at_a_time_as_the_migration_role() -> None:
    cron = named("CronJob", "utxoiq-ingest-maintain")["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    container = cron["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"] == ["db", "maintain"]
    url = next(e for e in container["env"] if e["name"] == "DATABASE_URL")
    assert url["valueFrom"]["secretKeyRef"]["name"] == "utxoiq-ingest-db-migrate"
    assert {"configMapRef": {"name": "utxoiq-ingest"}} in container["envFrom"]


def test_migration_job_runs_upgrade_as_the_migration_role() -> None:
    job = named("Job", "utxoiq-ingest-migrate")["spec"]["template"]["spec"]
    container = job["containers"][0]
    assert container["args"] == ["db", "upgrade"]
    url = next(e for e in container["env"] if e["name"] == "DATABASE_URL")
    assert url["valueFrom"]["secretKeyRef"]["name"] == "utxoiq-ingest-db-migrate"
    assert config()["UTXOIQ_MIGRATE_ON_START"] == "false"


def test_scaled_objects_follow_lag_with_one_replica_per_partition_at_most() -> None:
    topics = topic_resources()
    deployments = {d["metadata"]["name"]: pipeline_of(d) for d in of_kind("Deployment")}
    prefix = IngestSettings(group_prefix=config()["UTXOIQ_GROUP_PREFIX"])
    scaled = of_kind("ScaledObject")
    assert len(scaled) == len(Stream)
    for item in scaled:
        stream = deployments[item["spec"]["scaleTargetRef"]["name"]]
        trigger = item["spec"]["triggers"][0]
        assert trigger["type"] == "kafka"
        assert trigger["metadata"]["consumerGroup"] == prefix.group_id(stream)
        assert trigger["metadata"]["topic"] == CONTRACTS[stream].default_topic
        assert trigger["metadata"]["bootstrapServers"] == config()["KAFKA_BOOTSTRAP_SERVERS"]
        assert int(trigger["metadata"]["lagThreshold"]) > 0
        partitions = topics[trigger["metadata"]["topic"]]["partitions"]
        assert 1 <= item["spec"]["maxReplicaCount"] <= partitions


def test_kafka_acls_are_least_privilege() -> None:
    user = named("KafkaUser", "utxoiq-ingest")["spec"]
    assert user["authentication"]["type"] == "scram-sha-512"
    granted = {
        (acl["resource"]["type"], acl["resource"]["name"], op)
        for acl in user["authorization"]["acls"]
        for op in acl["operations"]
    }
    expected = {("group", config()["UTXOIQ_GROUP_PREFIX"] + "-", op) for op in ("Describe", "Read")}
    for contract in CONTRACTS.values():
        topic = contract.default_topic
        expected |= {("topic", topic, "Describe"), ("topic", topic, "Read")}
        expected |= {("topic", dlq_topic(topic), "Describe"), ("topic", dlq_topic(topic), "Write")}
    assert granted == expected


def test_compose_orders_migrations_before_consumers(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["migrate"]["command"] == ["db", "upgrade"]
    consumers = {n: s for n, s in ingest_services(compose).items() if s["command"][0] == "consume"}
    assert sorted(Stream(s["command"][2]) for s in consumers.values()) == sorted(Stream)
    for name, service in consumers.items():
        depends = service["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert (
            depends["kafka"]["condition"] == depends["postgres"]["condition"] == "service_healthy"
        )
        assert f":{PORT}/healthz" in " ".join(service["healthcheck"]["test"])
        assert service["environment"]["UTXOIQ_HTTP_PORT"] == str(PORT)
        assert all(port.endswith(f":{PORT}") for port in service["ports"])
    for name in ("kafka", "postgres"):
        assert services[name]["healthcheck"]["test"], name


def test_dockerfile_is_multi_stage_and_non_root() -> None:
    lines = [line.split() for line in (REPO / "Dockerfile").read_text().splitlines() if line]
    stages = [words for words in lines if words[0] == "FROM"]
    assert len(stages) == 2
    assert ["USER", "10001:10001"] in lines
    assert ["EXPOSE", str(PORT)] in lines
    assert ["ENTRYPOINT", '["utxoiq"]'] in lines
