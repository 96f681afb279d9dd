"""A fresh database with one shop and a large, realistic order history, loaded in bulk.

The shop and its API key go through the real services (so the default policy and reason codes are
exactly what a new shop gets). Everything else (products, customers, orders, lines, tenders and a
share of earlier returns with their audit events and outbox rows) is generated in memory with
explicit ids and written with PostgreSQL ``COPY`` or SQLAlchemy Core ``insert()`` executemany on
SQLite: no ORM, no API calls."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Engine, Table, insert, text

from retour.kit.actor import Actor
from retour.kit.db import make_session_factory, unit_of_work
from retour.merchant import service as merchant_service
from retour.models import (
    AuditEvent,
    Customer,
    Order,
    OrderLine,
    OutboxMessage,
    Product,
    ReturnLine,
    ReturnRequest,
    Tender,
    Variant,
)

CATEGORIES = ("rings", "necklaces", "earrings", "bracelets")
METALS = ("or", "argent", "vermeil", "platine")
REASONS = ("too_small", "too_large", "colour_different", "changed_mind", "arrived_late", "better_price", "other")
EARLIER_STATUSES = ("approved",) * 10 + ("completed",) * 4 + ("requested",) * 3 + ("cancelled",) * 2 + ("rejected",)
SHOP_SLUG = "bench-shop"
# Tables loaded with explicit ids (their sequences are moved past them afterwards).
EXPLICIT_IDS = ("product", "variant", "customer", "order", "order_line", "tender", "return_request", "return_line")


@dataclass
class OrderInfo:
    id: int
    customer_id: int
    lines: list[tuple[int, int, bool]]  # (order_line_id, quantity, is_final_sale)


@dataclass
class Dataset:
    merchant_id: int
    token: str
    orders: int
    order_lines: int
    customers: int
    earlier_returns: int
    seconds: float = 0.0
    # Orders with no earlier return and at least one returnable line, shuffled: the API run takes
    # them in turn so that every return creation is for a distinct order.
    fresh_orders: list[OrderInfo] = field(default_factory=list)
    all_orders: list[OrderInfo] = field(default_factory=list)


def create_shop(engine: Engine) -> tuple[int, str]:
    """The shop and a read/write API key, through the services a real installation uses."""
    with unit_of_work(make_session_factory(engine)) as session:
        merchant = merchant_service.create_merchant(session, slug=SHOP_SLUG, name="Bench Bijoux")
        issued = merchant_service.create_api_key(
            session, merchant_id=merchant.id, name="bench", scopes=["read", "write"], actor=Actor.system("bench")
        )
        return merchant.id, issued.token


def generate(engine: Engine, merchant_id: int, token: str, *, orders: int, seed: int = 20251122) -> Dataset:
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    tables: dict[Table, list[dict[str, Any]]] = {}

    products, variants = _catalog(merchant_id, now)
    tables[Product.__table__] = products  # type: ignore[index]
    tables[Variant.__table__] = variants  # type: ignore[index]

    n_customers = max(1, orders // 2)
    customers = [
        {
            "id": i,
            "merchant_id": merchant_id,
            "email": f"client{i}@example.fr",
            "name": f"Client {i}",
            "language": "fr" if i % 5 else "en",
            "tags": ["vip"] if i % 50 == 0 else [],
            "created_at": now,
            "updated_at": now,
        }
        for i in range(1, n_customers + 1)
    ]
    tables[Customer.__table__] = customers  # type: ignore[index]

    order_rows: list[dict[str, Any]] = []
    line_rows: list[dict[str, Any]] = []
    tender_rows: list[dict[str, Any]] = []
    infos: list[OrderInfo] = []
    line_id = 0
    for order_id in range(1, orders + 1):
        customer_id = rng.randint(1, n_customers)
        delivered = now - timedelta(days=rng.randint(1, 25), hours=rng.randint(0, 23))
        placed = delivered - timedelta(days=3, hours=rng.randint(0, 12))
        info = OrderInfo(order_id, customer_id, [])
        paid_total = 0
        for n in range(rng.choices((1, 2, 3), weights=(50, 35, 15))[0]):
            line_id += 1
            variant = rng.choice(variants)
            quantity = 1 if rng.random() < 0.8 else 2
            price = variant["price_amount"]
            discount = (price * quantity * rng.choice((10, 15, 20))) // 100 if rng.random() < 0.2 else 0
            paid = price * quantity - discount
            final_sale = rng.random() < 0.03
            paid_total += paid
            line_rows.append(
                {
                    "id": line_id,
                    "merchant_id": merchant_id,
                    "order_id": order_id,
                    "external_id": f"l{n + 1}",
                    "variant_id": variant["id"],
                    "product_external_id": f"P{variant['product_id']}",
                    "sku": variant["sku"],
                    "title": variant["title"],
                    "category": CATEGORIES[variant["product_id"] % len(CATEGORIES)],
                    "tags": ["engraved"] if final_sale else [],
                    "attributes": variant["attributes"],
                    "image_url": None,
                    "is_final_sale": final_sale,
                    "quantity": quantity,
                    "unit_price_amount": price,
                    "discount_amount": discount,
                    "tax_amount": paid // 6,
                }
            )
            info.lines.append((line_id, quantity, final_sale))
        order_rows.append(
            {
                "id": order_id,
                "merchant_id": merchant_id,
                "external_id": f"shop-{order_id}",
                "number": f"#{100000 + order_id}",
                "customer_id": customer_id,
                "email": f"client{customer_id}@example.fr",
                "customer_name": f"Client {customer_id}",
                "postal_code": f"{75001 + order_id % 20}",
                "country": "FR",
                "language": "fr",
                "currency": "EUR",
                "placed_at": placed,
                "shipped_at": placed + timedelta(days=1),
                "delivered_at": delivered,
                "shipping_amount": 490,
                "tags": [],
                "gift_code": None,
                "created_at": placed,
                "updated_at": placed,
            }
        )
        tender_rows.append(
            {
                "id": order_id,
                "merchant_id": merchant_id,
                "order_id": order_id,
                "kind": "card",
                "amount": paid_total + 490,
                "reference": f"ch_{order_id}",
            }
        )
        infos.append(info)
    tables[Order.__table__] = order_rows  # type: ignore[index]
    tables[OrderLine.__table__] = line_rows  # type: ignore[index]
    tables[Tender.__table__] = tender_rows  # type: ignore[index]

    earlier = _earlier_returns(rng, merchant_id, infos, now)
    with_return = {row["order_id"] for row in earlier[ReturnRequest.__table__]}  # type: ignore[index]
    tables.update(earlier)

    _write(engine, tables)
    _finish(engine, merchant_id, len(earlier[ReturnRequest.__table__]))  # type: ignore[index]

    fresh = [info for info in infos if info.id not in with_return and any(not fs for _, _, fs in info.lines)]
    rng.shuffle(fresh)
    return Dataset(
        merchant_id=merchant_id,
        token=token,
        orders=orders,
        order_lines=len(line_rows),
        customers=n_customers,
        earlier_returns=len(with_return),
        fresh_orders=fresh,
        all_orders=infos,
    )


def _catalog(merchant_id: int, now: datetime) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    products, variants = [], []
    for p in range(1, 121):
        category = CATEGORIES[p % len(CATEGORIES)]
        products.append(
            {
                "id": p,
                "merchant_id": merchant_id,
                "external_id": f"P{p}",
                "title": f"{category.capitalize()} Lune {p}",
                "category": category,
                "tags": [],
                "image_url": None,
                "created_at": now,
                "updated_at": now,
            }
        )
        for v, metal in enumerate(METALS):
            variant_id = (p - 1) * len(METALS) + v + 1
            variants.append(
                {
                    "id": variant_id,
                    "merchant_id": merchant_id,
                    "product_id": p,
                    "external_id": f"V{variant_id}",
                    "sku": f"{category[:4].upper()}-{p:03d}-{metal.upper()}",
                    "title": f"{category.capitalize()} Lune {p} {metal}",
                    "price_amount": 2900 + (p * 731 + v * 1500) % 30000,
                    "currency": "EUR",
                    "is_final_sale": False,
                    "weight_grams": 5 + p % 20,
                    "attributes": {"metal": metal},
                    "created_at": now,
                    "updated_at": now,
                }
            )
    return products, variants


def _earlier_returns(
    rng: random.Random, merchant_id: int, infos: list[OrderInfo], now: datetime
) -> dict[Table, list[dict[str, Any]]]:
    """About 8% of the orders already have a return (in every state), with its audit events and
    processed outbox rows: the tables the hot path reads and writes are not empty."""
    requests, lines, events, messages = [], [], [], []
    sequence = 0
    for info in infos:
        candidates = [(lid, qty) for lid, qty, final_sale in info.lines if not final_sale]
        if not candidates or rng.random() >= 0.08:
            continue
        sequence += 1
        order_line_id, _ = rng.choice(candidates)
        status = rng.choice(EARLIER_STATUSES)
        approved = 1 if status in ("approved", "completed") else 0
        received = 1 if status == "completed" else 0
        created = now - timedelta(hours=rng.randint(1, 400))
        requests.append(
            {
                "id": sequence,
                "merchant_id": merchant_id,
                "number": f"R-{sequence:06d}",
                "order_id": info.id,
                "customer_id": info.customer_id,
                "status": status,
                "resolution": "refund",
                "method": "prepaid_label",
                "channel": "portal",
                "currency": "EUR",
                "policy_version": 1,
                "needs_review": False,
                "review_reasons": [],
                "quote": {"currency": "EUR", "resolution": "refund", "total_amount": 0, "lines": []},
                "refund_estimate_amount": 0,
                "decision_note": None,
                "created_at": created,
                "updated_at": created,
                "approved_at": created if approved else None,
                "closed_at": created if status in ("cancelled", "rejected", "completed") else None,
            }
        )
        lines.append(
            {
                "id": sequence,
                "merchant_id": merchant_id,
                "return_request_id": sequence,
                "order_line_id": order_line_id,
                "requested_quantity": 1,
                "approved_quantity": approved,
                "received_quantity": received,
                "accepted_quantity": received,
                "rejected_quantity": 0,
                "restocked_quantity": 0,
                "refunded_quantity": received,
                "exchanged_quantity": 0,
                "reason_code": rng.choice(REASONS),
                "comment": "",
                "exchange_variant_id": None,
                "eligibility": {"status": "eligible", "deadline": None, "photos_required": False, "rules": []},
            }
        )
        for action in ("return.requested", f"return.{status}"):
            events.append(
                {
                    "merchant_id": merchant_id,
                    "subject_type": "return_request",
                    "subject_id": sequence,
                    "action": action,
                    "actor_type": "customer",
                    "actor_id": str(info.customer_id),
                    "actor_label": f"Client {info.customer_id}",
                    "before": None,
                    "after": {"status": status},
                    "created_at": created,
                }
            )
            messages.append(
                {
                    "merchant_id": merchant_id,
                    "topic": action,
                    "payload": {"return_id": sequence, "number": f"R-{sequence:06d}"},
                    "status": "done",
                    "attempts": 1,
                    "available_at": created,
                    "last_error": None,
                    "created_at": created,
                    "processed_at": created,
                }
            )
    return {
        ReturnRequest.__table__: requests,  # type: ignore[dict-item]
        ReturnLine.__table__: lines,  # type: ignore[dict-item]
        AuditEvent.__table__: events,  # type: ignore[dict-item]
        OutboxMessage.__table__: messages,  # type: ignore[dict-item]
    }


def _complete(table: Table, rows: list[dict[str, Any]]) -> None:
    """Columns the generator does not know (added by a later migration) get the model's default."""
    if not rows:
        return
    for column in table.columns:
        if column.name in rows[0] or column.primary_key:
            continue
        default = column.default
        if default is None:
            value: Any = None
        elif getattr(default, "is_callable", False):
            value = default.arg(None)  # type: ignore[attr-defined]
        else:
            value = getattr(default, "arg", None)
        for row in rows:
            row[column.name] = value


def _write(engine: Engine, tables: dict[Table, list[dict[str, Any]]]) -> None:
    for table, rows in tables.items():
        _complete(table, rows)
    if engine.dialect.name == "postgresql":
        _copy_postgres(engine, tables)
        return
    with engine.connect() as connection:
        # Same idea on SQLite: the generated rows are consistent, so no per-row foreign-key lookups.
        driver = connection.connection.dbapi_connection
        assert driver is not None
        driver.execute("PRAGMA foreign_keys=OFF")
        with connection.begin():
            for table, rows in tables.items():
                if not rows:
                    continue
                # The Core statement, run as one driver executemany with the columns' own bind
                # processors (same storage format as the ORM, without per-row statement overhead).
                compiled = insert(table).compile(dialect=engine.dialect, column_keys=list(rows[0]))
                columns = list(compiled.positiontup or [])  # the statement's own parameter order
                sql = str(compiled)
                procs = [table.c[c].type.dialect_impl(engine.dialect).bind_processor(engine.dialect) for c in columns]
                pairs = list(zip(columns, procs, strict=True))
                for chunk in _chunks(rows, 20_000):
                    driver.executemany(sql, [tuple(p(row[c]) if p else row[c] for c, p in pairs) for row in chunk])
        driver.execute("PRAGMA foreign_keys=ON")


def _copy_postgres(engine: Engine, tables: dict[Table, list[dict[str, Any]]]) -> None:
    raw = engine.raw_connection()
    try:
        driver = raw.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            # The rows are generated consistent; skip the per-row foreign-key triggers while loading
            # (superuser, this session only: the standard bulk-load switch).
            cursor.execute("SET session_replication_role = replica")
            for table, rows in tables.items():
                if not rows:
                    continue
                columns = list(rows[0])
                json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
                names = ", ".join(f'"{name}"' for name in columns)
                with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                    for row in rows:
                        copy.write_row([_json(row[c]) if c in json_columns else row[c] for c in columns])
            cursor.execute("SET session_replication_role = DEFAULT")
        driver.commit()
    finally:
        raw.close()


def _json(value: Any) -> str | None:
    if value is None:
        return None
    if not value:
        return "[]" if isinstance(value, list) else "{}"
    return json.dumps(value)


def _finish(engine: Engine, merchant_id: int, earlier_returns: int) -> None:
    """Sequences after explicit ids, the shop's return counter, fresh planner statistics."""
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE merchant SET return_sequence = :n WHERE id = :id"), {"n": earlier_returns, "id": merchant_id}
        )
        if engine.dialect.name == "postgresql":
            for table in EXPLICIT_IDS:
                connection.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                        f'(SELECT coalesce(max(id), 0) + 1 FROM "{table}"), false)'
                    )
                )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))


def _chunks(rows: Sequence[dict[str, Any]], size: int) -> Iterable[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
