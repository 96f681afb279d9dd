"""A deliberately tiny HTTP/1.1 keep-alive client on asyncio streams.

The load generator shares the machine's two cores with the server, so it must cost as little CPU
as possible: one persistent connection per simulated client, requests written as prepared bytes,
responses read by ``Content-Length``. No TLS, no redirects, no cookies: exactly what the benchmark
needs and nothing else (httpx.AsyncClient costs several times more CPU per request)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any


class HttpError(Exception):
    pass


class Connection:
    def __init__(
        self,
        host: str,
        port: int,
        headers: dict[str, str] | None = None,
        *,
        reconnect_every: int = 0,
        timeout: float = 60.0,
    ) -> None:
        """``reconnect_every``: open a new connection after that many requests (0: never). A request
        that gets no answer within ``timeout`` seconds raises ``TimeoutError`` (a stuck server must
        not hang the benchmark)."""
        self.timeout = timeout
        self.host = host
        self.port = port
        self.reconnect_every = reconnect_every
        self._served = 0
        extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
        self._base_headers = f"Host: {host}:{port}\r\n{extra}"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
            self._writer = self._reader = None

    async def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        payload = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {path} HTTP/1.1\r\n{self._base_headers}"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        data = (head + "\r\n").encode() + payload
        if self.reconnect_every and self._served >= self.reconnect_every:
            await self.close()
        for attempt in (1, 2):
            if self._writer is None:
                await self._connect()
                self._served = 0
            assert self._reader is not None and self._writer is not None
            try:
                self._writer.write(data)
                self._served += 1
                return await asyncio.wait_for(self._read_response(), self.timeout)
            except (ConnectionError, asyncio.IncompleteReadError):
                await self.close()
                if attempt == 2:
                    raise
            except TimeoutError:
                await self.close()
                raise
        raise HttpError("unreachable")

    async def _read_response(self) -> tuple[int, bytes]:
        assert self._reader is not None
        status_line = await self._reader.readline()
        if not status_line:
            raise ConnectionError("server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length = 0
        chunked = close = False
        while True:
            line = await self._reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            body = b""
            while True:
                size = int((await self._reader.readline()).split(b";")[0], 16)
                chunk = await self._reader.readexactly(size + 2)
                if size == 0:
                    break
                body += chunk[:-2]
        else:
            body = await self._reader.readexactly(length) if length else b""
        if close:
            await self.close()
        return status, body
