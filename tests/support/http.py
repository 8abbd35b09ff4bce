"""One raw HTTP/1.1 request to the operations port (no client library in between)."""

from __future__ import annotations

import asyncio


async def http_request(port: int, path: str, method: str = "GET") -> tuple[int, bytes]:
    """Send ``method path`` to 127.0.0.1:``port``; the status code and the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(f"{method} {path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
        await writer.drain()
        response = await asyncio.wait_for(reader.read(), timeout=10)
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body
