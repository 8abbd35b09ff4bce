"""The operations port of a running service serves /metrics, /healthz and /readyz, and
nothing else: every other path is 404 without echoing it, every other method 405."""

from __future__ import annotations

from collections.abc import Callable

import asyncpg

from consumer.settings import Settings
from schemas.topics import Stream
from tests.support.http import http_request
from tests.support.proxy import free_port
from tests.support.running import running_service

OTHER_PATHS = [
    "/",
    "/admin",
    "/debug/pprof",
    "/metrics/",
    "/metricsz",
    "/healthz/../metrics",
    "/%2e%2e/etc/passwd",
    "/.env",
    "/config",
    "/settings",
]


async def test_the_operations_port_serves_only_metrics_and_the_probes(
    make_settings: Callable[..., Settings], clean_db: asyncpg.Pool
) -> None:
    """Three paths answer; any other path or method is refused and nothing is reflected."""
    port = free_port()
    settings = make_settings(http_port=port, http_host="127.0.0.1")
    async with running_service(settings, [Stream.JOBS]):
        for path in ("/metrics", "/healthz", "/readyz", "/metrics?name=x"):
            status, _ = await http_request(port, path)
            assert status == 200, path
        for path in OTHER_PATHS:
            status, body = await http_request(port, path)
            assert status == 404, path
            assert path.encode() not in body
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"):
            status, _ = await http_request(port, "/metrics", method)
            assert status == 405, method
