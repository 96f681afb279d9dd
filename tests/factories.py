"""Builders for test data. Each takes keyword overrides and returns committed-ready objects."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from retour.kit import clock
from retour.kit.actor import Actor
from retour.merchant import service as merchant_service
from retour.models import Merchant, Order
from retour.order import service as order_service
from retour.order.schemas import OrderIn

STAFF_PASSWORD = "correct horse battery"
_counter = {"n": 0}


def _next() -> int:
    _counter["n"] += 1
    return _counter["n"]


def merchant(session: Session, *, slug: str | None = None, name: str = "Maison Test") -> Merchant:
    return merchant_service.create_merchant(session, slug=slug or f"shop-{_next()}", name=name)


def api_key(session: Session, merchant_id: int, scopes: list[str] | None = None) -> str:
    issued = merchant_service.create_api_key(
        session,
        merchant_id=merchant_id,
        name="tests",
        scopes=scopes or ["read", "write", "refund"],
        actor=Actor.system("tests"),
    )
    return issued.token


def order_payload(**overrides: Any) -> dict[str, Any]:
    n = _next()
    delivered = overrides.pop("delivered_days_ago", 5)
    now = clock.now()
    placed = now - timedelta(days=(delivered or 0) + 3)
    payload: dict[str, Any] = {
        "external_id": f"ext-{n}",
        "number": f"#{1000 + n}",
        "currency": "EUR",
        "customer": {
            "email": f"client{n}@example.fr",
            "name": "Camille Martin",
            "language": "fr",
            "tags": [],
        },
        "shipping_address": {"postal_code": "75011", "country": "FR"},
        "placed_at": placed.isoformat(),
        "shipped_at": (placed + timedelta(days=1)).isoformat(),
        "delivered_at": (now - timedelta(days=delivered)).isoformat() if delivered is not None else None,
        "shipping_amount": 490,
        "lines": [
            {
                "external_id": "l1",
                "sku": "RING-GOLD-52",
                "title": "Bague Lune or 52",
                "quantity": 2,
                "unit_price_amount": 12900,
                "discount_amount": 0,
                "tax_amount": 4300,
                "category": "rings",
            },
            {
                "external_id": "l2",
                "sku": "NECK-SILVER",
                "title": "Collier Étoile argent",
                "quantity": 1,
                "unit_price_amount": 8900,
                "discount_amount": 0,
                "tax_amount": 1483,
                "category": "necklaces",
            },
        ],
        "tenders": [{"kind": "card", "amount": 35190}],
    }
    payload.update(overrides)
    return payload


def order(session: Session, merchant_id: int, **overrides: Any) -> Order:
    created, _ = order_service.upsert_order(session, merchant_id, OrderIn.model_validate(order_payload(**overrides)))
    return created


def at(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 12, tzinfo=UTC)


def record_delivery(session: Session, message: Any) -> None:
    """A test outbox handler: records that ``message`` was delivered as an audit event
    (action ``test.delivered``, subject the outbox row), in the handler's transaction."""
    from retour.models import AuditEvent

    session.add(
        AuditEvent(
            merchant_id=message.merchant_id,
            subject_type="outbox_message",
            subject_id=message.id,
            action="test.delivered",
            actor_type="system",
            actor_label="tests",
        )
    )
