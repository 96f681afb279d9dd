"""The raw database baseline: the writes a return creation makes, issued directly with the driver.

Per return, one transaction: the shop's counter ``UPDATE ... RETURNING`` (which locks the shop row
until commit, as the app does), the ``return_request`` row, its ``return_line`` rows, the two
``audit_event`` rows and the two ``outbox_message`` rows an auto-approved return writes
(``return.requested`` and ``return.approved``), then ``COMMIT``. No reads, no policy, no HTTP, no
ORM: what the database alone can do with the same concurrency."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench.dataset import REASONS, OrderInfo


@dataclass
class RawResult:
    created: int
    seconds: float
    errors: int
    first_error: str = ""

    @property
    def per_second(self) -> float:
        return self.created / self.seconds if self.seconds else 0.0


def _documents(order: OrderInfo, number: str, rng: random.Random) -> dict[str, Any]:
    line_id, _quantity, _ = next(line for line in order.lines if not line[2])
    quote = {
        "currency": "EUR",
        "resolution": "refund",
        "items_amount": 12900,
        "tax_amount": 2150,
        "restocking_fee_amount": 0,
        "return_shipping_fee_amount": 0,
        "shipping_refund_amount": 0,
        "bonus_amount": 0,
        "total_amount": 12900,
        "lines": [
            {
                "order_line_id": line_id,
                "quantity": 1,
                "item_amount": 12900,
                "tax_amount": 2150,
                "restocking_fee_amount": 0,
            }
        ],
    }
    eligibility = {"status": "eligible", "deadline": "2026-12-20", "photos_required": False, "rules": []}
    reason = rng.choice(REASONS)
    snapshot = {
        "number": number,
        "status": "requested",
        "resolution": "refund",
        "method": "prepaid_label",
        "total_amount": 12900,
        "lines": [{"order_line_id": line_id, "quantity": 1, "reason": reason}],
    }
    return {"line_id": line_id, "quote": quote, "eligibility": eligibility, "snapshot": snapshot, "reason": reason}


_REQUEST_COLUMNS = (
    "merchant_id, number, order_id, customer_id, status, resolution, method, channel, currency, policy_version, "
    "needs_review, review_reasons, quote, refund_estimate_amount, created_at, updated_at, approved_at"
)
_LINE_COLUMNS = (
    "merchant_id, return_request_id, order_line_id, requested_quantity, approved_quantity, received_quantity, "
    "accepted_quantity, rejected_quantity, restocked_quantity, refunded_quantity, exchanged_quantity, "
    "reason_code, comment, eligibility"
)
_AUDIT_COLUMNS = (
    "merchant_id, subject_type, subject_id, action, actor_type, actor_id, actor_label, before, after, created_at"
)
_OUTBOX_COLUMNS = "merchant_id, topic, payload, status, attempts, available_at, created_at"


def _params(merchant_id: int, order: OrderInfo, sequence: int, rng: random.Random) -> dict[str, Any]:
    number = f"R-{sequence:06d}"
    docs = _documents(order, number, rng)
    return {"number": number, "now": datetime.now(UTC), **docs}


def _run_threads(clients: int, seconds: float, one: Callable[[int], Callable[[], None]]) -> RawResult:
    """``one(index)`` opens a connection and returns the function that creates one return."""
    result = RawResult(created=0, seconds=seconds, errors=0)
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)
    start_box: list[float] = []

    def worker(index: int) -> None:
        create = one(index)
        ready.wait()
        deadline = start_box[0] + seconds
        while time.perf_counter() < deadline:
            try:
                create()
            except Exception as error:  # counted and reported, never hidden
                with lock:
                    result.errors += 1
                    result.first_error = result.first_error or repr(error)[:300]
                continue
            if time.perf_counter() <= deadline:
                with lock:
                    result.created += 1

    threads = [threading.Thread(target=worker, args=(index,), daemon=True) for index in range(clients)]
    for thread in threads:
        thread.start()
    start_box.append(time.perf_counter() + 0.05)
    ready.wait()
    for thread in threads:
        thread.join()
    return result


def postgres(url: str, merchant_id: int, orders: list[OrderInfo], *, clients: int, seconds: float) -> RawResult:
    conninfo = url.replace("postgresql+psycopg://", "postgresql://")
    cursor_lock = threading.Lock()
    position = [0]

    def next_order() -> OrderInfo:
        with cursor_lock:
            position[0] += 1
            return orders[position[0] % len(orders)]

    def one(index: int) -> Callable[[], None]:
        connection = psycopg.connect(conninfo, options="-c statement_timeout=30s")
        rng = random.Random(index)

        def create() -> None:
            order = next_order()
            with connection.transaction(), connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE merchant SET return_sequence = return_sequence + 1 WHERE id = %s RETURNING return_sequence",
                    (merchant_id,),
                )
                row = cursor.fetchone()
                assert row is not None
                p = _params(merchant_id, order, row[0], rng)
                cursor.execute(
                    f"INSERT INTO return_request ({_REQUEST_COLUMNS}) VALUES "
                    "(%s, %s, %s, %s, 'approved', 'refund', 'prepaid_label', 'api', 'EUR', 1, false, '[]', %s, 12900, "
                    "%s, %s, %s) RETURNING id",
                    (
                        merchant_id,
                        p["number"],
                        order.id,
                        order.customer_id,
                        json.dumps(p["quote"]),
                        p["now"],
                        p["now"],
                        p["now"],
                    ),
                )
                created = cursor.fetchone()
                assert created is not None
                return_id = created[0]
                cursor.execute(
                    f"INSERT INTO return_line ({_LINE_COLUMNS}) VALUES "
                    "(%s, %s, %s, 1, 1, 0, 0, 0, 0, 0, 0, %s, '', %s) RETURNING id",
                    (merchant_id, return_id, p["line_id"], p["reason"], json.dumps(p["eligibility"])),
                )
                cursor.execute(
                    f"INSERT INTO audit_event ({_AUDIT_COLUMNS}) VALUES "
                    "(%s, 'return_request', %s, 'return.requested', 'api_key', '1', 'API key #1', NULL, %s, %s), "
                    "(%s, 'return_request', %s, 'return.approved', 'system', NULL, 'Policy', %s, %s, %s) RETURNING id",
                    (
                        merchant_id,
                        return_id,
                        json.dumps(p["snapshot"]),
                        p["now"],
                        merchant_id,
                        return_id,
                        json.dumps({"status": "requested"}),
                        json.dumps({"status": "approved", "automatic": True}),
                        p["now"],
                    ),
                )
                payload = json.dumps({"return_id": return_id, "number": p["number"]})
                cursor.execute(
                    f"INSERT INTO outbox_message ({_OUTBOX_COLUMNS}) VALUES "
                    "(%s, 'return.requested', %s, 'pending', 0, %s, %s), "
                    "(%s, 'return.approved', %s, 'pending', 0, %s, %s) RETURNING id",
                    (merchant_id, payload, p["now"], p["now"], merchant_id, payload, p["now"], p["now"]),
                )

        return create

    return _run_threads(clients, seconds, one)


def sqlite(path: str, merchant_id: int, orders: list[OrderInfo], *, clients: int, seconds: float) -> RawResult:
    cursor_lock = threading.Lock()
    position = [0]

    def next_order() -> OrderInfo:
        with cursor_lock:
            position[0] += 1
            return orders[position[0] % len(orders)]

    def stamp(moment: datetime) -> str:
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite DateTime format

    def one(index: int) -> Callable[[], None]:
        # The app's connection settings (kit/db.py): WAL, synchronous=NORMAL, foreign keys, busy timeout.
        connection = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        for pragma in ("foreign_keys=ON", "journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=30000"):
            connection.execute(f"PRAGMA {pragma}")
        rng = random.Random(index)

        def create() -> None:
            order = next_order()
            cursor = connection.cursor()
            cursor.execute("BEGIN IMMEDIATE")
            try:
                cursor.execute(
                    "UPDATE merchant SET return_sequence = return_sequence + 1 WHERE id = ? RETURNING return_sequence",
                    (merchant_id,),
                )
                sequence = cursor.fetchone()[0]
                p = _params(merchant_id, order, sequence, rng)
                now = stamp(p["now"])
                cursor.execute(
                    f"INSERT INTO return_request ({_REQUEST_COLUMNS}) VALUES "
                    "(?, ?, ?, ?, 'approved', 'refund', 'prepaid_label', 'api', 'EUR', 1, 0, '[]', ?, 12900, ?, ?, ?)",
                    (merchant_id, p["number"], order.id, order.customer_id, json.dumps(p["quote"]), now, now, now),
                )
                return_id = cursor.lastrowid
                cursor.execute(
                    f"INSERT INTO return_line ({_LINE_COLUMNS}) VALUES (?, ?, ?, 1, 1, 0, 0, 0, 0, 0, 0, ?, '', ?)",
                    (merchant_id, return_id, p["line_id"], p["reason"], json.dumps(p["eligibility"])),
                )
                cursor.execute(
                    f"INSERT INTO audit_event ({_AUDIT_COLUMNS}) VALUES "
                    "(?, 'return_request', ?, 'return.requested', 'api_key', '1', 'API key #1', NULL, ?, ?), "
                    "(?, 'return_request', ?, 'return.approved', 'system', NULL, 'Policy', ?, ?, ?)",
                    (
                        merchant_id,
                        return_id,
                        json.dumps(p["snapshot"]),
                        now,
                        merchant_id,
                        return_id,
                        json.dumps({"status": "requested"}),
                        json.dumps({"status": "approved", "automatic": True}),
                        now,
                    ),
                )
                payload = json.dumps({"return_id": return_id, "number": p["number"]})
                cursor.execute(
                    f"INSERT INTO outbox_message ({_OUTBOX_COLUMNS}) VALUES "
                    "(?, 'return.requested', ?, 'pending', 0, ?, ?), (?, 'return.approved', ?, 'pending', 0, ?, ?)",
                    (merchant_id, payload, now, now, merchant_id, payload, now, now),
                )
                cursor.execute("COMMIT")
            except BaseException:
                cursor.execute("ROLLBACK")
                raise

        return create

    return _run_threads(clients, seconds, one)


def postgres_serial_commits(url: str, merchant_id: int, *, seconds: float = 2.0) -> float:
    """One connection, ``UPDATE merchant`` + ``COMMIT`` in a loop: how many commits per second the
    WAL flush allows when each waits for the previous one, which is what the shop-row lock imposes
    on the return creations of one shop (the ceiling of both the app and the raw baseline)."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as connection:
        done = 0
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            connection.execute("UPDATE merchant SET return_sequence = return_sequence WHERE id = %s", (merchant_id,))
            connection.commit()
            done += 1
    return done / seconds
