"""Load through the HTTP API: concurrent return creations, then ``returnable`` latency."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bench.dataset import REASONS, OrderInfo
from bench.http import Connection

# uvicorn's worker processes share one listening socket and an idle one accepts every pending
# connection: 16 keep-alive connections opened together all land on the same process and the
# other idles (measured). So the clients start 10 ms apart and reconnect every 10 requests, as
# many independent API clients would: new connections go to whichever process is free to accept.
RECONNECT_EVERY = 10
STAGGER_SECONDS = 0.01


@dataclass
class CreateResult:
    created: int
    seconds: float
    errors: Counter[int] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    client_cpu_seconds: float = 0.0
    first_error: str = ""

    @property
    def per_second(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0


@dataclass
class LatencyResult:
    latencies_ms: list[float]
    errors: Counter[int] = field(default_factory=Counter)
    first_error: str = ""


def return_body(order: OrderInfo, rng: random.Random) -> dict[str, Any]:
    """One or two units of one or two returnable lines of the order."""
    candidates = [(line_id, quantity) for line_id, quantity, final_sale in order.lines if not final_sale]
    picked = candidates[:2] if len(candidates) > 1 and rng.random() < 0.3 else candidates[:1]
    return {
        "order_id": order.id,
        "resolution": rng.choice(("refund", "refund", "store_credit", "exchange")),
        "method": rng.choice(("prepaid_label", "drop_off")),
        "lines": [
            {"order_line_id": line_id, "quantity": rng.randint(1, quantity), "reason_code": rng.choice(REASONS)}
            for line_id, quantity in picked
        ],
    }


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


async def _creates(
    host: str, port: int, token: str, bodies: Iterator[dict[str, Any]], *, clients: int, seconds: float
) -> CreateResult:
    connections = [
        Connection(host, port, {"Authorization": f"Bearer {token}"}, reconnect_every=RECONNECT_EVERY)
        for _ in range(clients)
    ]
    result = CreateResult(created=0, seconds=seconds)
    start = time.perf_counter()
    deadline = start + seconds

    async def client(index: int, connection: Connection) -> None:
        await asyncio.sleep(index * STAGGER_SECONDS)
        while time.perf_counter() < deadline:
            body = next(bodies, None)
            if body is None:
                return
            began = time.perf_counter()
            try:
                status, payload = await connection.request("POST", "/api/v1/returns", body)
            except (TimeoutError, OSError, asyncio.IncompleteReadError) as error:
                status, payload = 0, repr(error).encode()
            ended = time.perf_counter()
            if ended > deadline:
                return  # finished after the bell: not counted
            if status == 201:
                result.created += 1
                result.latencies_ms.append((ended - began) * 1000)
            else:
                result.errors[status] += 1
                result.first_error = result.first_error or f"{status} {payload[:300].decode(errors='replace')}"

    cpu = time.process_time()
    try:
        await asyncio.gather(*(client(index, connection) for index, connection in enumerate(connections)))
    finally:
        await asyncio.gather(*(connection.close() for connection in connections))
    result.seconds = min(seconds, time.perf_counter() - start)
    result.client_cpu_seconds = time.process_time() - cpu
    return result


def create_returns(
    host: str, port: int, token: str, bodies: Iterator[dict[str, Any]], *, clients: int, seconds: float
) -> CreateResult:
    return asyncio.run(_creates(host, port, token, bodies, clients=clients, seconds=seconds))


async def _latency(host: str, port: int, token: str, order_ids: list[int], *, clients: int) -> LatencyResult:
    result = LatencyResult(latencies_ms=[])
    queue = iter(order_ids)

    async def client(index: int) -> None:
        await asyncio.sleep(index * STAGGER_SECONDS)
        connection = Connection(host, port, {"Authorization": f"Bearer {token}"}, reconnect_every=RECONNECT_EVERY)
        try:
            for order_id in queue:
                began = time.perf_counter()
                try:
                    status, payload = await connection.request("GET", f"/api/v1/orders/{order_id}/returnable")
                except (TimeoutError, OSError, asyncio.IncompleteReadError) as error:
                    status, payload = 0, repr(error).encode()
                elapsed = (time.perf_counter() - began) * 1000
                if status == 200:
                    result.latencies_ms.append(elapsed)
                else:
                    result.errors[status] += 1
                    result.first_error = result.first_error or f"{status} {payload[:300].decode(errors='replace')}"
        finally:
            await connection.close()

    await asyncio.gather(*(client(index) for index in range(clients)))
    return result


def returnable_latency(host: str, port: int, token: str, order_ids: list[int], *, clients: int) -> LatencyResult:
    return asyncio.run(_latency(host, port, token, order_ids, clients=clients))
