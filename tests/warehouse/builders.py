"""Warehouse test data, built through the real services: a shop with a catalogue (a ring with its
weight, a necklace, a dress, headphones), a delivered order, and a return auto-approved by the
default policy. Plus a snapshot of every warehouse table for "a refusal changed nothing"."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from retour.catalog import service as catalog_service
from retour.catalog.schemas import ProductIn
from retour.inventory import service as inventory_service
from retour.inventory.schemas import LocationIn
from retour.kit.actor import Actor
from retour.kit.db import begin_write, unit_of_work
from retour.kit.errors import RetourError
from retour.models import (
    AuditEvent,
    InspectionUnit,
    InventoryMovement,
    Merchant,
    OutboxMessage,
    Receipt,
    ReceiptLine,
    ResaleListing,
    ReturnLine,
    ReturnRequest,
    Shipment,
    StockLocation,
)
from retour.return_request import service as return_request_service
from retour.return_request.schemas import ReturnIn, ReturnLineIn
from tests import factories

AGENT = Actor("api_key", "7", "API key #7")
STAFF = Actor("staff", "12", "Inès (entrepôt)")

PRODUCTS: dict[str, dict[str, Any]] = {
    "RING-GOLD-52": {
        "external_id": "ring-lune",
        "title": "Bague Lune or",
        "category": "rings",
        "price_amount": 12900,
        "weight_grams": 3,
        "line": {"title": "Bague Lune or 52", "unit_price_amount": 12900, "tax_amount": 4300, "category": "rings"},
    },
    "NECK-SILVER": {
        "external_id": "collier-etoile",
        "title": "Collier Étoile argent",
        "category": "necklaces",
        "price_amount": 8900,
        "weight_grams": 12,
        "line": {
            "title": "Collier Étoile argent",
            "unit_price_amount": 8900,
            "tax_amount": 1483,
            "category": "necklaces",
        },
    },
    "DRESS-M": {
        "external_id": "robe-ete",
        "title": "Robe d'été",
        "category": "dresses",
        "price_amount": 6900,
        "weight_grams": None,
        "line": {"title": "Robe d'été M", "unit_price_amount": 5900, "tax_amount": 983, "category": "dresses"},
    },
    "HEADPHONES": {
        "external_id": "casque",
        "title": "Casque audio",
        "category": "electronics",
        "price_amount": 19900,
        "weight_grams": 250,
        "line": {"title": "Casque audio", "unit_price_amount": 19900, "tax_amount": 3317, "category": "electronics"},
    },
}


@dataclass(frozen=True)
class Seeded:
    merchant_id: int
    order_id: int
    return_id: int
    number: str
    lines: dict[str, int]
    """return line id by SKU"""


def add_catalogue(session: Session, merchant_id: int) -> None:
    for sku, product in PRODUCTS.items():
        catalog_service.upsert_product(
            session,
            merchant_id,
            ProductIn.model_validate(
                {
                    "external_id": product["external_id"],
                    "title": product["title"],
                    "category": product["category"],
                    "variants": [
                        {"sku": sku, "price_amount": product["price_amount"], "weight_grams": product["weight_grams"]}
                    ],
                }
            ),
        )


def create_return(
    session: Session, merchant_id: int, items: dict[str, int], *, reason: str = "too_small", ordered: int = 2
) -> ReturnRequest:
    """An order of ``ordered`` units of each SKU, and an approved return of ``items`` (SKU → units)."""
    lines = [
        {"external_id": sku.lower(), "sku": sku, "quantity": ordered, **PRODUCTS[sku]["line"]}
        for sku in PRODUCTS
        if sku in items
    ]
    for line in lines:
        line["tax_amount"] *= ordered
    order = factories.order(session, merchant_id, lines=lines, tenders=[])
    by_sku = {line.sku: line.id for line in order.lines}
    request = return_request_service.request_return(
        session,
        merchant_id,
        ReturnIn(
            order_id=order.id,
            resolution="refund",
            method="prepaid_label",
            lines=[
                ReturnLineIn(order_line_id=by_sku[sku], quantity=quantity, reason_code=reason)
                for sku, quantity in items.items()
            ],
        ),
        actor=AGENT,
    )
    assert request.status == "approved"
    return request


def seed(
    factory: sessionmaker[Session],
    items: dict[str, int] | None = None,
    *,
    reason: str = "too_small",
    locations: tuple[str, ...] = ("PARIS", "LYON"),
    ordered: int = 2,
) -> Seeded:
    """A committed shop with its catalogue, stock locations and one approved return."""
    with unit_of_work(factory) as session:
        merchant = factories.merchant(session)
        add_catalogue(session, merchant.id)
        for index, code in enumerate(locations):
            inventory_service.create_location(
                session,
                merchant.id,
                LocationIn(code=code, name=code.title(), countries_served=["FR"] if index == 0 else ["BE"]),
                actor=STAFF,
            )
        request = create_return(session, merchant.id, items or {"RING-GOLD-52": 2}, reason=reason, ordered=ordered)
        _, order_lines = return_request_service.context_for(session, merchant.id, [request])
        return Seeded(
            merchant.id,
            request.order_id,
            request.id,
            request.number,
            {order_lines[line.order_line_id].sku: line.id for line in request.lines},
        )


def add_shipment(session: Session, merchant_id: int, return_id: int, tracking: str, status: str = "in_transit") -> int:
    shipment = Shipment(
        merchant_id=merchant_id,
        return_request_id=return_id,
        method="prepaid_label",
        tracking_number=tracking,
        status=status,
    )
    session.add(shipment)
    session.flush()
    return shipment.id


def counts(session: Session) -> dict[str, Any]:
    """Every row count and ledger column the warehouse writes, read through ``session``."""

    def count(model: type) -> int:
        return session.scalar(select(func.count()).select_from(model)) or 0

    ledger = session.execute(
        select(
            ReturnLine.id,
            ReturnLine.received_quantity,
            ReturnLine.accepted_quantity,
            ReturnLine.rejected_quantity,
            ReturnLine.restocked_quantity,
        ).order_by(ReturnLine.id)
    )
    units = session.execute(
        select(InspectionUnit.id, InspectionUnit.status, InspectionUnit.disposition).order_by(InspectionUnit.id)
    )
    return {
        "receipts": count(Receipt),
        "receipt_lines": count(ReceiptLine),
        "units": [tuple(row) for row in units],
        "movements": count(InventoryMovement),
        "locations": [
            tuple(row)
            for row in session.execute(
                select(StockLocation.id, StockLocation.code, StockLocation.is_default).order_by(StockLocation.id)
            )
        ],
        "listings": [
            tuple(row)
            for row in session.execute(select(ResaleListing.id, ResaleListing.status).order_by(ResaleListing.id))
        ],
        "audit": count(AuditEvent),
        "outbox": count(OutboxMessage),
        "ledger": [tuple(row) for row in ledger],
        "statuses": [tuple(row) for row in session.execute(select(ReturnRequest.id, ReturnRequest.status))],
        "settings": [
            tuple(row) for row in session.execute(select(Merchant.id, Merchant.settings).order_by(Merchant.id))
        ],
        "shipments": [
            tuple(row) for row in session.execute(select(Shipment.id, Shipment.status).order_by(Shipment.id))
        ],
    }


@contextmanager
def writer(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A write transaction that the test ends itself (rolled back unless committed)."""
    session = factory()
    begin_write(session)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def refused(factory: sessionmaker[Session], act: Callable[[Session], object], error: type[RetourError]) -> RetourError:
    """``act`` is refused with ``error`` and wrote nothing (pending writes would show: autoflush)."""
    with writer(factory) as session:
        before = counts(session)
        with pytest.raises(error) as caught:
            act(session)
        assert counts(session) == before
        assert not session.new and not session.dirty
    return caught.value


def events(session: Session, return_id: int) -> list[tuple[str, Any]]:
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject_type == "return_request", AuditEvent.subject_id == return_id)
        .order_by(AuditEvent.id)
    )
    return [(event.action, event.after) for event in rows]


def topics(session: Session) -> list[tuple[str, dict[str, Any]]]:
    return [(m.topic, m.payload) for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
