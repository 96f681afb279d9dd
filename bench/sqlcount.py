"""How many SQL statements one request issues: the app in-process, an SQLAlchemy event listener
counting every statement the engine runs (and the commits), a few requests per route."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, event

from bench.dataset import OrderInfo
from bench.load import return_body
from retour.app import create_app
from retour.settings import Settings


@dataclass
class Counts:
    create_statements: float
    returnable_statements: float
    create_statements_list: list[str]
    shop_lock_ms: float
    """Median time from the shop counter's UPDATE to the end of COMMIT, one request at a time."""


def count(
    engine: Engine, database_url: str, token: str, create_orders: list[OrderInfo], read_orders: list[OrderInfo]
) -> Counts:
    statements: list[str] = []

    locked_at: list[float] = []

    def on_execute(*args: Any) -> None:
        statements.append(" ".join(str(args[2]).split())[:90])
        if str(args[2]).startswith("UPDATE merchant"):
            locked_at.append(time.perf_counter())

    def on_commit(_connection: Any) -> None:
        statements.append("COMMIT")

    event.listen(engine, "before_cursor_execute", on_execute)
    event.listen(engine, "commit", on_commit)
    held: list[float] = []

    def on_commit_done(*_args: Any) -> None:
        # after_commit is a Session event; the engine's "commit" fires before. Use the pool's
        # checkin-side signal instead: the connection goes back once the transaction is over.
        if locked_at:
            held.append((time.perf_counter() - locked_at.pop()) * 1000)

    event.listen(engine, "checkin", on_commit_done)
    settings = Settings(database_url=database_url, in_process_worker=False, environment="test")
    app = create_app(settings, engine=engine, start_worker=False)
    headers = {"Authorization": f"Bearer {token}"}
    rng = random.Random(3)
    created: list[int] = []
    read: list[int] = []
    last: list[str] = []
    try:
        with TestClient(app) as client:
            client.get(f"/api/v1/orders/{read_orders[0].id}/returnable", headers=headers)  # warm the caches
            for order in read_orders[1:6]:
                statements.clear()
                assert client.get(f"/api/v1/orders/{order.id}/returnable", headers=headers).status_code == 200
                read.append(len(statements))
            for order in create_orders:
                statements.clear()
                response = client.post("/api/v1/returns", json=return_body(order, rng), headers=headers)
                assert response.status_code == 201, response.text
                created.append(len(statements))
                last = list(statements)
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)
        event.remove(engine, "commit", on_commit)
        event.remove(engine, "checkin", on_commit_done)
    held.sort()
    return Counts(sum(created) / len(created), sum(read) / len(read), last, held[len(held) // 2] if held else 0.0)
