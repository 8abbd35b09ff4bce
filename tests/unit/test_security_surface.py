"""The deployment surface: the Kubernetes manifests render from kustomization.yaml and their
core kinds validate against the Kubernetes schemas; every container runs as non-root on a
read-only root filesystem; secrets come from Secrets, never from a command line."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import typer.main
import yaml

from consumer.cli.main import app

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30"
CORE_API_VERSIONS = {"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v2"}
"""Kinds Kubernetes itself defines (the others are Strimzi's and KEDA's resources)."""
OUTSIDE_KUSTOMIZATION = ("migration-job.yaml", "secrets.example.yaml")
SECRET_WORDS = ("password", "secret", "token", "credential", "url", "dsn")


def load(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def render_kustomization() -> list[dict[str, Any]]:
    """What ``kubectl kustomize deploy/k8s`` gives for the features the file uses: its
    resources, with the namespace, the common labels and the image tags applied."""
    kustomization = load(K8S / "kustomization.yaml")[0]
    assert set(kustomization) <= {
        "apiVersion",
        "kind",
        "namespace",
        "labels",
        "resources",
        "images",
    }
    labels: dict[str, str] = {}
    for group in kustomization.get("labels", []):
        assert not group.get("includeSelectors"), "selectors are not rendered here"
        labels.update(group["pairs"])
    tags = {image["name"]: image["newTag"] for image in kustomization.get("images", [])}
    rendered = []
    for resource in kustomization["resources"]:
        for doc in load(K8S / resource):
            doc = copy.deepcopy(doc)
            doc["metadata"]["namespace"] = kustomization["namespace"]
            doc["metadata"].setdefault("labels", {}).update(labels)
            for container in containers(doc):
                if container["image"] in tags:
                    container["image"] = f"{container['image']}:{tags[container['image']]}"
            rendered.append(doc)
    return rendered


def containers(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    spec = pod_spec(doc)
    if spec is not None:
        yield from spec.get("initContainers", [])
        yield from spec["containers"]


def pod_spec(doc: dict[str, Any]) -> dict[str, Any] | None:
    if doc["kind"] not in ("Deployment", "Job"):
        return None
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def every_document() -> list[dict[str, Any]]:
    return render_kustomization() + [
        doc for name in OUTSIDE_KUSTOMIZATION for doc in load(K8S / name)
    ]


def test_the_kustomization_renders_every_resource_it_lists() -> None:
    rendered = render_kustomization()
    kinds = {doc["kind"] for doc in rendered}
    assert {"Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "KafkaUser"} <= kinds
    assert all(doc["metadata"]["namespace"] == "utxoiq" for doc in rendered)
    images = {c["image"] for doc in rendered for c in containers(doc)}
    assert images and all(":" in image for image in images)


@pytest.mark.parametrize(
    "doc",
    [doc for doc in every_document() if doc["apiVersion"] in CORE_API_VERSIONS],
    ids=lambda doc: f"{doc['kind']}/{doc['metadata']['name']}",
)
def test_core_kinds_validate_against_the_kubernetes_schemas(doc: dict[str, Any]) -> None:
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_every_container_runs_as_non_root_on_a_read_only_root_filesystem() -> None:
    pods = [(doc, pod_spec(doc)) for doc in every_document()]
    pods_found = [(doc, spec) for doc, spec in pods if spec is not None]
    assert len(pods_found) == 4  # three consumer Deployments and the migration Job
    for doc, spec in pods_found:
        name = doc["metadata"]["name"]
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        for container in containers(doc):
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["allowPrivilegeEscalation"] is False, name


def test_secrets_come_from_secrets_never_from_a_command_line() -> None:
    for doc in every_document():
        for container in containers(doc):
            line = " ".join(container.get("command", []) + container.get("args", []))
            assert not any(word in line.lower() for word in SECRET_WORDS), line
            assert "://" not in line
            for env in container.get("env", []):
                if any(word in env["name"].lower() for word in ("password", "database_url")):
                    assert "secretKeyRef" in env.get("valueFrom", {}), env["name"]


def test_no_command_takes_a_secret_as_an_option() -> None:
    """Passwords and URLs with credentials are read from the environment only."""
    root = typer.main.get_command(app)

    def options(command: Any, path: str) -> Iterator[tuple[str, str]]:
        # Typer's click is vendored in newer releases: walked by shape, not by class.
        for param in command.params:
            for name in getattr(param, "opts", []):
                yield path, name
        for sub_name, sub in getattr(command, "commands", {}).items():
            yield from options(sub, f"{path} {sub_name}")

    found = list(options(root, "utxoiq"))
    assert len(found) > 20
    for path, name in found:
        assert not any(word in name.lower() for word in SECRET_WORDS), f"{path} {name}"


def test_the_schema_check_refuses_a_misspelt_field() -> None:
    """The validation above would catch a typo that kubectl apply would silently drop."""
    deployment = copy.deepcopy(next(d for d in render_kustomization() if d["kind"] == "Deployment"))
    deployment["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFilesytem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)
