"""Inspection, dispositions, the workshop queue and completing the return, against a real database
(SQLite, and PostgreSQL when configured). Refusals leave everything as it was."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retour.inventory import service as inventory_service
from retour.inventory.schemas import MovementIn
from retour.kit.db import unit_of_work
from retour.kit.errors import Conflict, InvalidInput, NotFound
from retour.models import InspectionUnit, InventoryMovement, OutboxMessage, ResaleListing, ReturnLine, ReturnRequest
from retour.receiving import inspection, service
from retour.receiving.schemas import ChecklistItemIn, WarehouseSettings
from tests import factories
from tests.warehouse.builders import STAFF, Seeded, events, refused, seed

RING = "RING-GOLD-52"
NECKLACE = "NECK-SILVER"
DRESS = "DRESS-M"
HEADPHONES = "HEADPHONES"
JEWELRY_OK = {"authenticity": True, "stone_setting": True, "clasp": True, "metal": True}
APPAREL_OK = {"tags_attached": True, "worn": False, "odour": False, "stains": False}
ELECTRONICS_OK = {"powers_on": True, "tested": True, "factory_reset": True, "accessories": True}


def receive_all(factory: sessionmaker[Session], shop: Seeded, quantities: dict[str, int]) -> list[int]:
    """Receive the units and answer their ids, in order."""
    with unit_of_work(factory) as session:
        receipt = service.receive_parcel(
            session,
            shop.merchant_id,
            shop.return_id,
            lines=[(shop.lines[sku], quantity) for sku, quantity in quantities.items()],
            actor=STAFF,
        )
        return [unit.id for unit in service.describe_receipt(session, shop.merchant_id, receipt).units]


def inspect(
    factory: sessionmaker[Session],
    shop: Seeded,
    unit_id: int,
    grade: str = "new",
    answers: dict[str, bool] | None = None,
    weight: str | None = "3",
    **kw: Any,
) -> InspectionUnit:
    with unit_of_work(factory) as session:
        return inspection.record_inspection(
            session,
            shop.merchant_id,
            unit_id,
            grade=grade,
            answers=JEWELRY_OK if answers is None else answers,
            measured_weight_grams=Decimal(weight) if weight is not None else None,
            actor=STAFF,
            **kw,
        )


def dispose(factory: sessionmaker[Session], shop: Seeded, unit_id: int, **kw: Any) -> InspectionUnit:
    with unit_of_work(factory) as session:
        return inspection.dispose_unit(session, shop.merchant_id, unit_id, actor=STAFF, **kw)


def line_of(session: Session, line_id: int) -> tuple[int, int, int, int, int]:
    line = session.get(ReturnLine, line_id)
    assert line is not None
    return (
        line.received_quantity,
        line.accepted_quantity,
        line.rejected_quantity,
        line.restocked_quantity,
        line.refunded_quantity,
    )


def status_of(session: Session, return_id: int) -> str:
    request = session.get(ReturnRequest, return_id)
    assert request is not None
    return request.status


# --- inspection -----------------------------------------------------------------------------------


def test_a_ring_within_tolerance_is_accepted_with_everything_recorded(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    first, second = receive_all(factory, shop, {RING: 2})
    unit = inspect(factory, shop, first, weight="3.05", notes="RAS", photos=["photos/a.jpg"])
    assert (unit.status, unit.grade, unit.accepted, unit.rejection_reason) == ("inspected", "new", True, None)
    assert (unit.measured_weight_milligrams, unit.expected_weight_milligrams) == (3050, 3000)
    assert (unit.inspector_id, unit.inspector_label, unit.notes, unit.photos) == (
        "12",
        "Inès (entrepôt)",
        "RAS",
        ["photos/a.jpg"],
    )
    assert unit.inspected_at is not None
    assert (unit.disposition, unit.disposition_reason, unit.disposition_overridden) == (
        "restock",
        {
            "rule_id": "wrong_size_new_restock",
            "en": "Wrong size and as new: back to stock.",
            "fr": "Mauvaise taille et comme neuf : remis en stock.",
        },
        False,
    )
    with unit_of_work(factory, write=False) as session:
        assert line_of(session, shop.lines[RING]) == (2, 1, 0, 0, 0)
        assert events(session, shop.return_id)[-1] == (
            "return.inspected",
            {
                "unit_id": first,
                "return_line_id": shop.lines[RING],
                "sku": RING,
                "grade": "new",
                "accepted": True,
                "rejection_reason": None,
                "disposition": "restock",
                "weight_status": "within_tolerance",
            },
        )
        described = service.describe_units(session, shop.merchant_id, [unit])[0]
        assert (described.measured_weight_grams, described.expected_weight_grams) == (Decimal("3.05"), Decimal(3))
        assert described.checklist and [item.code for item in described.checklist.items][:2] == [
            "authenticity",
            "weight",
        ]
        assert session.scalars(select(OutboxMessage.topic).where(OutboxMessage.topic == "return.inspected")).all() == []
    inspect(factory, shop, second)
    with unit_of_work(factory, write=False) as session:
        told = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "return.inspected")).all()
        assert [message.payload for message in told] == [{"return_id": shop.return_id, "number": shop.number}]


def test_a_much_lighter_ring_is_rejected_with_the_reason_for_the_customer(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    unit_id = receive_all(factory, shop, {RING: 1})[0]
    unit = inspect(factory, shop, unit_id, weight="1.1")
    assert (unit.accepted, unit.disposition) == (False, "quarantine")
    assert unit.rejection_reason == {
        "rule_id": "weight_much_lighter",
        "en": "The item weighs 1.10 g instead of 3.00 g: it may be a substitute or an empty case.",
        "fr": "L'article pèse 1.10 g au lieu de 3.00 g : il pourrait s'agir d'une substitution ou d'un écrin vide.",
    }
    with unit_of_work(factory, write=False) as session:
        assert line_of(session, shop.lines[RING]) == (1, 0, 1, 0, 0)


def test_inspecting_twice_or_with_an_incomplete_checklist_is_refused(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    first, second = receive_all(factory, shop, {RING: 2})
    inspect(factory, shop, first)

    def again(session: Session) -> object:
        return inspection.record_inspection(
            session,
            shop.merchant_id,
            first,
            grade="used",
            answers=JEWELRY_OK,
            measured_weight_grams=Decimal(3),
            actor=STAFF,
        )

    assert refused(factory, again, Conflict).code == "already_inspected"
    cases = [
        ({"authenticity": True, "stone_setting": True, "clasp": True}, "3", "new", "answers.metal"),
        (JEWELRY_OK, None, "new", "measured_weight_grams"),
        (JEWELRY_OK, "3", "shiny", "grade"),
    ]
    for answers, weight, grade, field in cases:

        def incomplete(
            session: Session, answers: dict[str, bool] = answers, weight: str | None = weight, grade: str = grade
        ) -> object:
            return inspection.record_inspection(
                session,
                shop.merchant_id,
                second,
                grade=grade,
                answers=answers,
                measured_weight_grams=Decimal(weight) if weight else None,
                actor=STAFF,
            )

        assert refused(factory, incomplete, InvalidInput).field == field


def test_an_unexpected_item_is_always_rejected_and_quarantined(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    with unit_of_work(factory) as session:
        service.receive_parcel(session, shop.merchant_id, shop.return_id, unexpected=[("MYSTERY", 1)], actor=STAFF)
        unit_id = service.units_of_return(session, shop.merchant_id, shop.return_id)[0].id
    unit = inspect(factory, shop, unit_id, answers={"matches_order": True, "complete": True}, weight=None)
    assert (unit.accepted, unit.rejection_reason, unit.disposition) == (
        False,
        {
            "rule_id": "not_in_return",
            "en": "This item is not part of the return.",
            "fr": "Cet article ne fait pas partie du retour.",
        },
        "quarantine",
    )
    error = refused(
        factory,
        lambda session: inspection.dispose_unit(
            session, shop.merchant_id, unit_id, disposition="restock", reason="looks fine", actor=STAFF
        ),
        Conflict,
    )
    assert (error.code, error.field) == ("unit_rejected", "disposition")


def test_the_shops_checklist_settings_and_rules_apply(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {DRESS: 1, RING: 1}, reason="changed_mind")
    with unit_of_work(factory) as session:
        checklist = service.set_checklist(
            session,
            shop.merchant_id,
            "Apparel",
            [
                ChecklistItemIn(
                    code="steamed",
                    en="Steamed and folded",
                    fr="Défroissé et plié",
                    failure="reject",
                    rejection_en="Not resellable as is.",
                    rejection_fr="Non revendable en l'état.",
                )
            ],
            actor=STAFF,
        )
        assert (checklist.name, checklist.is_shop_override) == ("apparel", True)
        service.update_warehouse_settings(
            session,
            shop.merchant_id,
            WarehouseSettings.model_validate(
                {
                    "disposition_rules": [
                        {"id": "dresses-to-charity", "when": {"categories": ["dresses"]}, "then": "donate"}
                    ],
                    "weight_tolerance_percent": "10",
                }
            ),
            actor=STAFF,
        )
    dress, ring = receive_all(factory, shop, {DRESS: 1, RING: 1})
    dress_unit = inspect(factory, shop, dress, answers={"steamed": True}, weight=None)
    assert (dress_unit.accepted, dress_unit.disposition) == (True, "donate")
    assert dress_unit.disposition_reason == {
        "rule_id": "shop:dresses-to-charity",
        "en": "Shop rule 'dresses-to-charity': donate.",
        "fr": "Règle de la boutique « dresses-to-charity » : don.",
    }
    assert inspect(factory, shop, ring, weight="3.29").accepted  # ± 10 % of 3 g is 0.3 g
    with unit_of_work(factory) as session:
        reset = service.reset_checklist(session, shop.merchant_id, "apparel", actor=STAFF)
        assert (reset.name, reset.is_shop_override, reset.items[0].code) == ("apparel", False, "tags_attached")


# --- dispositions ---------------------------------------------------------------------------------


def test_restock_goes_where_demand_is_highest_and_names_the_return_line(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2})  # PARIS (default, FR: the return's order of 2) and LYON (BE)
    with unit_of_work(factory) as session:
        ring = {**factories.order_payload()["lines"][0], "quantity": 3}
        factories.order(session, shop.merchant_id, shipping_address={"country": "BE"}, lines=[ring], tenders=[])
    first, second = receive_all(factory, shop, {RING: 2})
    inspect(factory, shop, first)
    inspect(factory, shop, second)
    dispose(factory, shop, first, location_code="lyon")
    with unit_of_work(factory) as session:
        inventory_service.record_movement(
            session, shop.merchant_id, MovementIn(sku=RING, location_code="LYON", kind="sale", quantity=1), actor=STAFF
        )
    unit = dispose(factory, shop, second)
    with unit_of_work(factory, write=False) as session:
        assert (unit.status, unit.final_disposition) == ("done", "restock")
        movements = session.scalars(select(InventoryMovement).order_by(InventoryMovement.id)).all()
        assert [(m.kind, m.quantity, m.return_line_id, m.inspection_unit_id) for m in movements] == [
            ("restock", 1, shop.lines[RING], first),
            ("sale", -1, None, None),
            ("restock", 1, shop.lines[RING], second),
        ]
        assert inventory_service.stock(session, shop.merchant_id, RING).model_dump() == {
            "sku": RING,
            "on_hand": 1,
            "locations": [
                {"location_code": "PARIS", "location_name": "Paris", "on_hand": 0},
                {"location_code": "LYON", "location_name": "Lyon", "on_hand": 1},
            ],
        }
        assert line_of(session, shop.lines[RING]) == (2, 2, 0, 2, 0)  # restocked, never refunded here
        assert events(session, shop.return_id)[-2] == (
            "return.disposed",
            {
                "unit_id": second,
                "sku": RING,
                "disposition": "restock",
                "location": "LYON",
                "movement_id": movements[2].id,
                "routing": {
                    "rule_id": "highest_demand",
                    "en": "LYON has the highest demand for RING-GOLD-52 (3): 3 unit(s) ordered in the last 30 days "
                    "from the countries it serves, 0 in stock.",
                    "fr": "LYON a la plus forte demande pour RING-GOLD-52 (3) : 3 unité(s) commandée(s) ces 30 derniers "
                    "jours dans les pays qu'il dessert, 0 en stock.",
                },
            },
        )
        assert events(session, shop.return_id)[-1] == ("return.completed", {"status": "completed"})
        request = session.get(ReturnRequest, shop.return_id)
        assert request is not None and (request.status, request.refund_estimate_amount) == ("completed", 25800)
        assert request.closed_at is not None


def test_a_fixed_restock_location_wins_over_demand(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 1})
    with unit_of_work(factory) as session:
        service.update_warehouse_settings(
            session, shop.merchant_id, WarehouseSettings(restock_location="LYON"), actor=STAFF
        )
    unit_id = receive_all(factory, shop, {RING: 1})[0]
    inspect(factory, shop, unit_id, grade="open_box")
    unit = dispose(factory, shop, unit_id)
    with unit_of_work(factory, write=False) as session:
        assert unit.final_disposition == "repackage_and_restock"
        assert inventory_service.on_hand(session, shop.merchant_id, RING, "LYON") == 1
        assert events(session, shop.return_id)[-2][1]["routing"]["rule_id"] == "fixed_location"  # type: ignore[index]


def test_an_unknown_fixed_location_is_refused(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    error = refused(
        factory,
        lambda session: service.update_warehouse_settings(
            session, shop.merchant_id, WarehouseSettings(restock_location="NANTES"), actor=STAFF
        ),
        NotFound,
    )
    assert (error.code, error.field) == ("unknown_location", "location_code")


def test_the_inspector_overrides_the_disposition_with_a_reason(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2})
    first, second = receive_all(factory, shop, {RING: 2})
    inspect(factory, shop, first)
    inspect(factory, shop, second)
    error = refused(
        factory,
        lambda session: inspection.dispose_unit(session, shop.merchant_id, first, disposition="donate", actor=STAFF),
        InvalidInput,
    )
    assert (error.code, error.field) == ("reason_required", "reason")
    unit = dispose(factory, shop, first, disposition="destroy", reason="Gravure illisible, invendable")
    assert (unit.disposition, unit.final_disposition, unit.disposition_overridden, unit.status) == (
        "destroy",
        "destroy",
        True,
        "done",
    )
    assert unit.disposition_reason == {
        "rule_id": "override",
        "en": "Gravure illisible, invendable",
        "fr": "Gravure illisible, invendable",
    }
    with unit_of_work(factory, write=False) as session:
        assert [action for action, _ in events(session, shop.return_id)][-2:] == [
            "return.disposition_overridden",
            "return.disposed",
        ]
        assert line_of(session, shop.lines[RING]) == (2, 2, 0, 0, 0)
        assert session.scalars(select(InventoryMovement)).all() == []
    again = refused(
        factory, lambda session: inspection.apply_disposition(session, shop.merchant_id, first, actor=STAFF), Conflict
    )
    assert again.code == "not_awaiting_disposition"


def test_repair_goes_through_the_workshop_queue_then_to_resale(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {NECKLACE: 1}, reason="damaged")
    unit_id = receive_all(factory, shop, {NECKLACE: 1})[0]
    inspect(factory, shop, unit_id, grade="heavily_damaged", answers={**JEWELRY_OK, "clasp": False}, weight="12")
    unit = dispose(factory, shop, unit_id)
    assert (unit.status, unit.disposition, unit.final_disposition) == ("in_repair", "repair", None)
    with unit_of_work(factory, write=False) as session:
        assert service.queue_counts(session, shop.merchant_id).in_repair == 1
        assert [u.id for u in service.list_units(session, shop.merchant_id, statuses=("in_repair",)).items] == [unit_id]
        assert status_of(session, shop.return_id) == "in_progress"
    error = refused(
        factory,
        lambda session: inspection.complete_repair(
            session, shop.merchant_id, unit_id, final_disposition="refurbish", actor=STAFF
        ),
        InvalidInput,
    )
    assert error.code == "invalid_final_disposition"
    with unit_of_work(factory) as session:
        unit = inspection.complete_repair(
            session,
            shop.merchant_id,
            unit_id,
            final_disposition="resell_second_hand",
            grade="used",
            notes="Fermoir remplacé",
            actor=STAFF,
        )
    assert (unit.status, unit.grade, unit.final_disposition, unit.notes) == (
        "done",
        "used",
        "resell_second_hand",
        "Fermoir remplacé",
    )
    with unit_of_work(factory, write=False) as session:
        listing = session.scalars(select(ResaleListing)).one()
        assert (listing.inspection_unit_id, listing.grade, listing.original_price_amount, listing.price_amount) == (
            unit_id,
            "used",
            8900,
            6230,
        )
        assert "Fermoir remplacé" in listing.description_fr
        assert status_of(session, shop.return_id) == "completed"
        assert [action for action, _ in events(session, shop.return_id)][-4:] == [
            "return.sent_to_workshop",
            "return.workshop_done",
            "return.disposed",
            "return.completed",
        ]


def test_refurbished_headphones_come_back_to_stock(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {HEADPHONES: 1}, reason="changed_mind")
    unit_id = receive_all(factory, shop, {HEADPHONES: 1})[0]
    inspect(factory, shop, unit_id, grade="open_box", answers={**ELECTRONICS_OK, "factory_reset": False}, weight=None)
    unit = dispose(factory, shop, unit_id, disposition="refurbish", reason="Reset and new earpads")
    assert unit.status == "in_refurbishment"
    with unit_of_work(factory) as session:
        inspection.complete_repair(
            session, shop.merchant_id, unit_id, final_disposition="restock", location_code="PARIS", actor=STAFF
        )
    with unit_of_work(factory, write=False) as session:
        assert inventory_service.on_hand(session, shop.merchant_id, HEADPHONES, "PARIS") == 1
        assert status_of(session, shop.return_id) == "completed"


def test_the_return_completes_only_when_everything_arrived_and_is_done(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2})
    first = receive_all(factory, shop, {RING: 1})[0]
    inspect(factory, shop, first)
    dispose(factory, shop, first, disposition="donate", reason="Don à l'association")
    with unit_of_work(factory, write=False) as session:
        assert status_of(session, shop.return_id) == "in_progress"  # one ring still on its way
    second = receive_all(factory, shop, {RING: 1})[0]
    inspect(factory, shop, second, weight="1")
    with unit_of_work(factory, write=False) as session:
        assert status_of(session, shop.return_id) == "in_progress"  # inspected, not disposed yet
    dispose(factory, shop, second)
    with unit_of_work(factory, write=False) as session:
        assert status_of(session, shop.return_id) == "completed"
        assert line_of(session, shop.lines[RING]) == (2, 1, 1, 0, 0)
        completed = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "return.completed")).all()
        assert len(completed) == 1


def test_another_shop_cannot_touch_a_unit(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    unit_id = receive_all(factory, shop, {RING: 1})[0]
    with unit_of_work(factory) as session:
        intruder = factories.merchant(session).id
    for act in (
        lambda session: inspection.record_inspection(
            session, intruder, unit_id, grade="new", answers=JEWELRY_OK, measured_weight_grams=Decimal(3), actor=STAFF
        ),
        lambda session: inspection.apply_disposition(session, intruder, unit_id, actor=STAFF),
        lambda session: service.get_unit(session, intruder, unit_id),
    ):
        assert refused(factory, act, NotFound).code == "not_found"
