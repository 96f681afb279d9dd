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
    connections = [Connection(host, port, {"Authorization": f"Bearer {token}"}) for _ in range(clients)]
    result = CreateResult(created=0, seconds=seconds)
    start = time.perf_counter()
    deadline = start + seconds

    async def client(connection: Connection) -> None:
        while time.perf_counter() < deadline:
            body = next(bodies, None)
            if body is None:
                return
            began = time.perf_counter()
            status, payload = await connection.request("POST", "/api/v1/returns", body)
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
        await asyncio.gather(*(client(connection) for connection in connections))
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

    async def client() -> None:
        connection = Connection(host, port, {"Authorization": f"Bearer {token}"})
        try:
            for order_id in queue:
                began = time.perf_counter()
                status, payload = await connection.request("GET", f"/api/v1/orders/{order_id}/returnable")
                elapsed = (time.perf_counter() - began) * 1000
                if status == 200:
                    result.latencies_ms.append(elapsed)
                else:
                    result.errors[status] += 1
                    result.first_error = result.first_error or f"{status} {payload[:300].decode(errors='replace')}"
        finally:
            await connection.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return result


def returnable_latency(host: str, port: int, token: str, order_ids: list[int], *, clients: int) -> LatencyResult:
    return asyncio.run(_latency(host, port, token, order_ids, clients=clients))
