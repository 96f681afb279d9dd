"""A fake carrier API for the adapter tests: answers recorded responses by method and URL (query
left out), keeps every request it was sent, and never touches the network."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

RECORDINGS = Path(__file__).parent / "recordings"
PDF = b"%PDF-1.4\n% recorded label\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n"

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def recording(carrier: str, name: str) -> Any:
    return json.loads((RECORDINGS / carrier / f"{name}.json").read_text(encoding="utf-8"))


def recorded_bytes(carrier: str, name: str) -> bytes:
    return (RECORDINGS / carrier / f"{name}.json").read_bytes()


def answer(carrier: str, name: str, status: int = 200) -> httpx.Response:
    return httpx.Response(status, json=recording(carrier, name))


def pdf_file() -> httpx.Response:
    return httpx.Response(200, content=PDF, headers={"content-type": "application/pdf"})


def in_turn(*results: httpx.Response | Exception) -> Callable[[httpx.Request], httpx.Response]:
    """A route that answers ``results`` one call after the other (the last one to any later call)."""
    remaining = list(results)

    def handle(request: httpx.Request) -> httpx.Response:
        result = remaining.pop(0) if len(remaining) > 1 else remaining[0]
        if isinstance(result, Exception):
            raise result
        return result

    return handle


class FakeApi:
    def __init__(self, routes: dict[tuple[str, str], Answer]) -> None:
        self.routes = routes
        self.requests: list[httpx.Request] = []
        self.client = httpx.Client(transport=httpx.MockTransport(self._handle))

    def _handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        key = (request.method, str(request.url.copy_with(query=None)))
        if key not in self.routes:
            return httpx.Response(404, json={"detail": f"no recording for {key}"})
        result = self.routes[key]
        if isinstance(result, Exception):
            raise result
        if isinstance(result, httpx.Response):
            return result
        return result(request)

    def sent(self, method: str, url: str) -> Any:
        """The JSON body of the (last) request sent to ``method url``."""
        for request in reversed(self.requests):
            if (request.method, str(request.url.copy_with(query=None))) == (method, url):
                return json.loads(request.content)
        raise AssertionError(f"nothing was sent to {method} {url}")

    def calls(self) -> list[tuple[str, str]]:
        return [(request.method, str(request.url.copy_with(query=None))) for request in self.requests]

    def count(self, method: str, url: str) -> int:
        """How many requests were sent to ``method url``."""
        return self.calls().count((method, url))
