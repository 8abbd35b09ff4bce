"""The monitoring files (Grafana dashboard, Prometheus rules) and the metric names they use."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Iterator
from typing import Any

import orjson
import yaml

from tests.support.services import REPO

PROMETHEUS = REPO / "deploy" / "prometheus"
GRAFANA = REPO / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "utxoiq-ingest.json"
RULES = PROMETHEUS / "alerts.yml"
METRIC_NAME = re.compile(r"\butxoiq_[a-z0-9_]+")
SERIES_SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
}
"""Series each metric type exposes, after its family name."""


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(DASHBOARD.read_bytes())
    return loaded


def dashboard_panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        if panel["type"] != "row":
            yield panel


def dashboard_expressions() -> list[str]:
    return [target["expr"] for panel in dashboard_panels() for target in panel["targets"]]


def rule_groups() -> list[dict[str, Any]]:
    groups: list[dict[str, Any]] = yaml.safe_load(RULES.read_text())["groups"]
    return groups


def rule_expressions() -> list[str]:
    return [rule["expr"] for group in rule_groups() for rule in group["rules"]]


def metric_names(expressions: Iterable[str]) -> set[str]:
    """Every ``utxoiq_*`` series name the PromQL expressions read."""
    return {name for expr in expressions for name in METRIC_NAME.findall(expr)}


def served_series(exposition: str) -> set[str]:
    """The series names a ``/metrics`` text can hold, from its ``# TYPE`` lines, so a
    metric counts as served even before its first labelled sample."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ", 3)
            base = family.removesuffix("_total") if kind == "counter" else family
            names.update(base + suffix for suffix in SERIES_SUFFIXES.get(kind, ("",)))
    return names


async def scrape(port: int) -> str | None:
    """The ``/metrics`` text served on a loopback port; None while nothing answers."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return None
    try:
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return body.decode() if b" 200 " in head.split(b"\r\n", 1)[0] + b" " else None
