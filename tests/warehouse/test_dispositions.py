"""The dispositions that take a unit out of the shop's hands (liquidate, donate, recycle, destroy,
return to the supplier, quarantine), carried out through the service against a real database
(SQLite, and PostgreSQL when configured): the unit's final state, the stock ledger, the audit
trail, and an inspector's override that needs a reason.

A returned unit enters the stock ledger only when it is restocked (``inventory.restock_unit``):
until then it is not counted on hand, so a unit that leaves by any of these dispositions writes
nothing to the ledger (a write-off would take a unit that was never counted) and leaves the
variant's sellable quantity as it was."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.db import unit_of_work
from retour.kit.errors import InvalidInput, NotFound
from retour.models import InspectionUnit, InventoryMovement, OutboxMessage, StockLocation, Variant
from retour.receiving import inspection
from tests.warehouse.builders import STAFF, Seeded, events, refused, seed
from tests.warehouse.test_inspection import (
    APPAREL_OK,
    DRESS,
    JEWELRY_OK,
    RING,
    inspect,
    line_of,
    receive_all,
    status_of,
)

LEAVING = ("liquidate", "donate", "recycle", "destroy", "return_to_vendor", "quarantine")
REASON = "Décision de l'inspecteur après contrôle"
SELLABLE = 5


def _shop(factory: sessionmaker[Session], items: dict[str, int], **kw: Any) -> Seeded:
    shop = seed(factory, items, **kw)
    with unit_of_work(factory) as session:
        # The shop tracks its sellable stock: a disposition must leave it as it is.
        for variant in session.scalars(select(Variant).where(Variant.merchant_id == shop.merchant_id)):
            variant.inventory_quantity = SELLABLE
    return shop


def _sellable(session: Session, merchant_id: int, sku: str) -> int | None:
    return session.scalars(
        select(Variant.inventory_quantity).where(Variant.merchant_id == merchant_id, Variant.sku == sku)
    ).one()


def _unit(session: Session, unit_id: int) -> InspectionUnit:
    unit = session.get(InspectionUnit, unit_id)
    assert unit is not None
    return unit


def _location_id(session: Session, merchant_id: int, code: str) -> int:
    return session.scalars(
        select(StockLocation.id).where(StockLocation.merchant_id == merchant_id, StockLocation.code == code)
    ).one()


def _inventory_topics(session: Session) -> list[str]:
    return [topic for topic in session.scalars(select(OutboxMessage.topic)) if topic.startswith("inventory.")]


@pytest.mark.parametrize("disposition", LEAVING)
def test_an_overridden_disposition_is_recorded_with_its_reason_and_writes_no_stock(
    factory: sessionmaker[Session], disposition: str
) -> None:
    shop = _shop(factory, {RING: 1})
    (unit_id,) = receive_all(factory, shop, {RING: 1})
    assert inspect(factory, shop, unit_id).disposition == "restock"  # as new, wrong size
    with unit_of_work(factory) as session:
        inspection.dispose_unit(
            session, shop.merchant_id, unit_id, actor=STAFF, disposition=disposition, reason=f"  {REASON} "
        )
    with unit_of_work(factory, write=False) as session:
        unit = _unit(session, unit_id)
        assert (
            unit.status,
            unit.disposition,
            unit.final_disposition,
            unit.disposition_overridden,
            unit.stock_location_id,
        ) == ("done", disposition, disposition, True, None)
        assert unit.disposition_reason == {"rule_id": "override", "en": REASON, "fr": REASON}
        assert unit.disposed_at is not None
        *disposed, completed = events(session, shop.return_id)[-3:]
        # The last unit done completes the return.
        assert completed[0] == "return.completed"
        assert disposed == [
            (
                "return.disposition_overridden",
                {"unit_id": unit_id, "disposition": disposition, "reason": REASON},
            ),
            ("return.disposed", {"unit_id": unit_id, "sku": RING, "disposition": disposition}),
        ]
        # Nothing in the ledger, nothing taken off sale, nothing told to the shop platform.
        assert session.scalars(select(InventoryMovement)).all() == []
        assert _sellable(session, shop.merchant_id, RING) == SELLABLE
        assert _inventory_topics(session) == []
        # Received and accepted, not restocked; the return is complete.
        assert line_of(session, shop.lines[RING]) == (1, 1, 0, 0, 0)
        assert status_of(session, shop.return_id) == "completed"


@pytest.mark.parametrize("disposition", LEAVING)
def test_the_location_holding_the_unit_is_kept_without_counting_it_in_stock(
    factory: sessionmaker[Session], disposition: str
) -> None:
    shop = _shop(factory, {RING: 1})
    (unit_id,) = receive_all(factory, shop, {RING: 1})
    inspect(factory, shop, unit_id)
    with unit_of_work(factory) as session:
        inspection.dispose_unit(
            session,
            shop.merchant_id,
            unit_id,
            actor=STAFF,
            disposition=disposition,
            reason=REASON,
            location_code=" lyon ",
        )
    with unit_of_work(factory, write=False) as session:
        assert _unit(session, unit_id).stock_location_id == _location_id(session, shop.merchant_id, "LYON")
        assert events(session, shop.return_id)[-2] == (
            "return.disposed",
            {"unit_id": unit_id, "sku": RING, "disposition": disposition, "location": "LYON"},
        )
        assert session.scalars(select(InventoryMovement)).all() == []
        assert _sellable(session, shop.merchant_id, RING) == SELLABLE


@pytest.mark.parametrize(
    ("items", "grade", "answers", "weight", "proposed", "rule_id", "accepted"),
    [
        # A defective ring goes back to the supplier.
        ({RING: 1}, "defective", JEWELRY_OK, "3", "return_to_vendor", "defective_return_to_vendor", True),
        # A heavily damaged dress cannot be sold again.
        ({DRESS: 1}, "heavily_damaged", APPAREL_OK, None, "recycle", "heavily_damaged_recycle", True),
        # A ring much lighter than the catalogue's is rejected: quarantined.
        ({RING: 1}, "new", JEWELRY_OK, "1.5", "quarantine", "rejected_quarantine", False),
    ],
)
def test_a_proposed_disposition_is_carried_out_as_proposed_without_stock(
    factory: sessionmaker[Session],
    items: dict[str, int],
    grade: str,
    answers: dict[str, bool],
    weight: str | None,
    proposed: str,
    rule_id: str,
    accepted: bool,
) -> None:
    shop = _shop(factory, items)
    (sku,) = items
    (unit_id,) = receive_all(factory, shop, items)
    inspected = inspect(factory, shop, unit_id, grade=grade, answers=answers, weight=weight)
    assert (inspected.disposition, inspected.disposition_reason["rule_id"], inspected.accepted) == (
        proposed,
        rule_id,
        accepted,
    )
    with unit_of_work(factory) as session:
        # The screen's button sends the proposed disposition back: no override, no reason needed.
        inspection.dispose_unit(session, shop.merchant_id, unit_id, actor=STAFF, disposition=proposed)
    with unit_of_work(factory, write=False) as session:
        unit = _unit(session, unit_id)
        assert (unit.status, unit.final_disposition, unit.disposition_overridden) == ("done", proposed, False)
        actions = [action for action, _ in events(session, shop.return_id)]
        assert actions[-2:] == ["return.disposed", "return.completed"]
        assert "return.disposition_overridden" not in actions
        assert session.scalars(select(InventoryMovement)).all() == []
        assert _sellable(session, shop.merchant_id, sku) == SELLABLE
        assert line_of(session, shop.lines[sku]) == (1, 1 if accepted else 0, 0 if accepted else 1, 0, 0)


@pytest.mark.parametrize("disposition", LEAVING)
@pytest.mark.parametrize("reason", [None, "", "   ", "ok"])
def test_an_override_without_a_reason_is_refused_and_changes_nothing(
    factory: sessionmaker[Session], disposition: str, reason: str | None
) -> None:
    shop = _shop(factory, {RING: 1})
    (unit_id,) = receive_all(factory, shop, {RING: 1})
    inspect(factory, shop, unit_id)
    error = refused(
        factory,
        lambda session: inspection.dispose_unit(
            session, shop.merchant_id, unit_id, actor=STAFF, disposition=disposition, reason=reason
        ),
        InvalidInput,
    )
    assert (error.code, error.field) == ("reason_required", "reason")
    with unit_of_work(factory, write=False) as session:
        unit = _unit(session, unit_id)
        assert (unit.status, unit.disposition, unit.disposition_overridden, unit.final_disposition) == (
            "inspected",
            "restock",
            False,
            None,
        )


def test_an_override_to_an_unknown_location_is_refused_and_changes_nothing(factory: sessionmaker[Session]) -> None:
    shop = _shop(factory, {RING: 1})
    (unit_id,) = receive_all(factory, shop, {RING: 1})
    inspect(factory, shop, unit_id)
    error = refused(
        factory,
        lambda session: inspection.dispose_unit(
            session,
            shop.merchant_id,
            unit_id,
            actor=STAFF,
            disposition="quarantine",
            reason=REASON,
            location_code="NOWHERE",
        ),
        NotFound,
    )
    assert error.code == "unknown_location"
    with unit_of_work(factory, write=False) as session:
        assert (_unit(session, unit_id).status, _unit(session, unit_id).disposition) == ("inspected", "restock")
