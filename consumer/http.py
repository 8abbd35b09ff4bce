"""The operations endpoint of a process: ``/metrics``, ``/healthz`` and ``/readyz``.

A minimal HTTP/1.1 server on asyncio streams (GET and HEAD only, one request per
connection), so probes run on the service's own event loop and see its live state.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from http import HTTPStatus

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from consumer.errors import ConfigurationError
from consumer.health import ProgressWatch, StallBounds, Verdict, liveness, readiness, update_lag
from consumer.metrics.alert import refresh_partitions_ahead
from consumer.view import ServiceView

log = logging.getLogger("utxoiq.http")

MAX_HEADER_BYTES = 16 * 1024
READ_TIMEOUT_S = 5.0

Response = tuple[HTTPStatus, str, bytes]


def _verdict_response(verdict: Verdict) -> Response:
    status = HTTPStatus.OK if verdict.ok else HTTPStatus.SERVICE_UNAVAILABLE
    body = orjson.dumps({"status": "ok" if verdict.ok else "fail", "checks": verdict.checks})
    return status, "application/json", body


class OpsServer:
    """Serves the telemetry registry and the health probes of one ``ServiceView``."""

    def __init__(self, service: ServiceView, host: str, port: int) -> None:
        self.service = service
        self.host = host
        self.port = port
        self._server: asyncio.Server | None = None
        self._lag_series: set[tuple[str, ...]] = set()
        self._watch = ProgressWatch()
        self._routes: dict[str, Callable[[], Awaitable[Response]]] = {
            "/metrics": self._metrics,
            "/healthz": self._healthz,
            "/readyz": self._readyz,
        }

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, limit=MAX_HEADER_BYTES
        )
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("ops endpoint listening", extra={"host": self.host, "port": self.port})

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def _metrics(self) -> Response:
        update_lag(self.service.statuses(), self.service.telemetry, self._lag_series)
        await refresh_partitions_ahead(self.service)
        return HTTPStatus.OK, CONTENT_TYPE_LATEST, generate_latest(self.service.telemetry.registry)

    async def _healthz(self) -> Response:
        bounds = StallBounds.of(self.service.settings.ingest)
        return _verdict_response(liveness(self.service.statuses(), bounds, self._watch))

    async def _readyz(self) -> Response:
        return _verdict_response(await readiness(self.service))

    async def _respond(self, method: str, path: str) -> Response:
        if method not in ("GET", "HEAD"):
            return HTTPStatus.METHOD_NOT_ALLOWED, "text/plain", b"method not allowed\n"
        route = self._routes.get(path.split("?", 1)[0])
        if route is None:
            return HTTPStatus.NOT_FOUND, "text/plain", b"not found\n"
        return await route()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(READ_TIMEOUT_S):
                head = await reader.readuntil(b"\r\n\r\n")
            method, path, _ = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ", 2)
            status, content_type, body = await self._respond(method, path)
            _write(writer, status, content_type, b"" if method == "HEAD" else body, len(body))
            await writer.drain()
        except (TimeoutError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            _write(writer, HTTPStatus.BAD_REQUEST, "text/plain", b"bad request\n", 12)
        except ConnectionError:
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


def _write(
    writer: asyncio.StreamWriter, status: HTTPStatus, content_type: str, body: bytes, length: int
) -> None:
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {length}\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(head.encode("latin-1") + body)


@contextlib.asynccontextmanager
async def ops_server(service: ServiceView) -> AsyncIterator[OpsServer | None]:
    """The endpoint on ``UTXOIQ_HTTP_HOST:UTXOIQ_HTTP_PORT`` for the block's duration
    (``off``: none). A port that cannot be bound stops the start with one line: a service
    without its probes and metrics would look dead to the platform while it consumes."""
    ingest = service.settings.ingest
    if ingest.http_port == "off":
        yield None
        return
    server = OpsServer(service, ingest.http_host, ingest.http_port)
    try:
        await server.start()
    except OSError as exc:
        raise ConfigurationError(
            f"cannot listen on {ingest.http_host}:{ingest.http_port} "
            f"(UTXOIQ_HTTP_HOST, UTXOIQ_HTTP_PORT): {exc.strerror or exc}; "
            "choose a free port, or UTXOIQ_HTTP_PORT=off for no operations endpoint"
        ) from exc
    try:
        yield server
    finally:
        await server.stop()
