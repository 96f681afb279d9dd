"""Scanning and receiving parcels against a real database (SQLite, and PostgreSQL when configured):
the quantity ledger, the return's status, the parcel's status, audit events, outbox rows, partial
and several parcels, empty boxes, unexpected items; and what a refusal leaves untouched."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.db import unit_of_work
from retour.kit.errors import Conflict, InvalidInput, NotFound
from retour.models import InspectionUnit, Receipt, ReturnLine, Shipment
from retour.receiving import service
from retour.return_request import service as return_request_service
from tests import factories
from tests.warehouse.builders import STAFF, Seeded, add_shipment, create_return, events, refused, seed, topics

RING = "RING-GOLD-52"
NECKLACE = "NECK-SILVER"


def ledger(session: Session, line_id: int) -> tuple[int, int, int, int, int]:
    line = session.get(ReturnLine, line_id)
    assert line is not None
    return (
        line.approved_quantity,
        line.received_quantity,
        line.accepted_quantity,
        line.rejected_quantity,
        line.restocked_quantity,
    )


def receive(factory: sessionmaker[Session], shop: Seeded, lines: list[tuple[int, int]], **kw: object) -> int:
    with unit_of_work(factory) as session:
        return service.receive_parcel(session, shop.merchant_id, shop.return_id, lines=lines, actor=STAFF, **kw).id  # type: ignore[arg-type]


# --- scanning -------------------------------------------------------------------------------------


def test_scan_finds_the_return_by_rma_number_qr_code_or_tracking_number(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2, NECKLACE: 1})
    with unit_of_work(factory) as session:
        parcel = add_shipment(session, shop.merchant_id, shop.return_id, "RT000010000001013")
    with unit_of_work(factory, write=False) as session:
        for code in (shop.number, shop.number.replace("-", ""), f"  {shop.number.lower()}\n"):
            found = service.find_return_for_scan(session, shop.merchant_id, code)
            assert (found.request.id, found.matched_by, found.shipment and found.shipment.id) == (
                shop.return_id,
                "rma_number",
                parcel,
            )
        by_qr = service.find_return_for_scan(
            session, shop.merchant_id, f"RETOUR;RMA={shop.number};TRK=RT000010000001013"
        )
        by_tracking = service.find_return_for_scan(session, shop.merchant_id, "rt000010000001013")
        assert (by_qr.request.id, by_qr.matched_by) == (shop.return_id, "rma_number")
        assert (by_tracking.request.id, by_tracking.matched_by) == (shop.return_id, "tracking_number")
        described = service.describe_scan(session, shop.merchant_id, by_tracking)
        assert described.shipment and described.shipment.tracking_number == "RT000010000001013"
        assert [
            (line.sku, line.approved_quantity, line.remaining_quantity, line.expected_weight_grams)
            for line in described.lines
        ] == [(RING, 2, 2, 3), (NECKLACE, 1, 1, 12)]
        assert (described.status, described.expected_weight_grams, described.units) == ("approved", 18, [])


def test_scan_never_finds_another_shops_return(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    other = seed(factory)
    with unit_of_work(factory) as session:
        add_shipment(session, other.merchant_id, other.return_id, "RT-OTHER")
    with unit_of_work(factory, write=False) as session:
        assert shop.number == other.number == "R-000001"
        assert service.find_return_for_scan(session, shop.merchant_id, "R-000001").request.id == shop.return_id
        for code in ("RT-OTHER", "R-000002", "nonsense", "RETOUR;TRK=RT-OTHER"):
            with pytest.raises(NotFound) as missing:
                service.find_return_for_scan(session, shop.merchant_id, code)
            assert (missing.value.code, missing.value.field) == ("scan_not_found", "code")


# --- receiving ------------------------------------------------------------------------------------


def test_a_complete_parcel_updates_the_ledger_the_parcel_and_the_return(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2, NECKLACE: 1})
    with unit_of_work(factory) as session:
        parcel = add_shipment(session, shop.merchant_id, shop.return_id, "RT1", status="delivered")
    with unit_of_work(factory) as session:
        receipt = service.receive_parcel(
            session,
            shop.merchant_id,
            shop.return_id,
            lines=[(shop.lines[RING], 2), (shop.lines[NECKLACE], 1)],
            weight_grams=140,
            notes="colis intact",
            actor=STAFF,
        )
        receipt_id = receipt.id
        assert (receipt.outcome, receipt.shipment_id, receipt.weight_grams) == ("as_expected", parcel, 140)
        assert (receipt.received_by_id, receipt.received_by_label) == ("12", "Inès (entrepôt)")
    with unit_of_work(factory, write=False) as session:
        assert ledger(session, shop.lines[RING]) == (2, 2, 0, 0, 0)
        assert ledger(session, shop.lines[NECKLACE]) == (1, 1, 0, 0, 0)
        assert return_request_service.get_return(session, shop.merchant_id, shop.return_id).status == "in_progress"
        assert session.get(Shipment, parcel).status == "received"  # type: ignore[union-attr]
        units = session.scalars(select(InspectionUnit).order_by(InspectionUnit.id)).all()
        assert [(u.sku, u.return_line_id, u.status, u.category) for u in units] == [
            (RING, shop.lines[RING], "awaiting_inspection", "rings"),
            (RING, shop.lines[RING], "awaiting_inspection", "rings"),
            (NECKLACE, shop.lines[NECKLACE], "awaiting_inspection", "necklaces"),
        ]
        assert events(session, shop.return_id)[2:] == [
            (
                "return.received",
                {
                    "receipt_id": receipt_id,
                    "outcome": "as_expected",
                    "lines": [
                        {"return_line_id": shop.lines[RING], "sku": RING, "quantity": 2},
                        {"return_line_id": shop.lines[NECKLACE], "sku": NECKLACE, "quantity": 1},
                    ],
                    "unexpected": [],
                    "weight_grams": 140,
                    "shipment_id": parcel,
                    "unit_ids": [unit.id for unit in units],
                },
            ),
            ("return.in_progress", {"status": "in_progress"}),
        ]
        assert topics(session)[-2:] == [
            ("return.received", {"return_id": shop.return_id, "number": shop.number, "receipt_id": receipt_id}),
            ("return.in_progress", {"return_id": shop.return_id, "number": shop.number}),
        ]
        timeline = return_request_service.timeline(session, shop.merchant_id, shop.return_id)
        assert [event.action for event in timeline] == [
            "return.requested",
            "return.approved",
            "return.received",
            "return.in_progress",
        ]


def test_partial_parcels_add_up_and_start_the_return_once(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2, NECKLACE: 1})
    first = receive(factory, shop, [(shop.lines[RING], 1)])
    second = receive(factory, shop, [(shop.lines[RING], 1), (shop.lines[NECKLACE], 1)])
    with unit_of_work(factory, write=False) as session:
        receipts = service.receipts_of_return(session, shop.merchant_id, shop.return_id)
        assert [(r.id, r.outcome, [(line.sku, line.quantity) for line in r.lines]) for r in receipts] == [
            (first, "partial", [(RING, 1)]),
            (second, "as_expected", [(RING, 1), (NECKLACE, 1)]),
        ]
        assert ledger(session, shop.lines[RING]) == (2, 2, 0, 0, 0)
        assert [action for action, _ in events(session, shop.return_id)] == [
            "return.requested",
            "return.approved",
            "return.received",
            "return.in_progress",
            "return.received",
        ]
        assert len(service.units_of_return(session, shop.merchant_id, shop.return_id)) == 3


def test_receiving_more_than_approved_is_refused_naming_the_line(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2, NECKLACE: 1})
    receive(factory, shop, [(shop.lines[RING], 1)])
    error = refused(
        factory,
        lambda session: service.receive_parcel(
            session,
            shop.merchant_id,
            shop.return_id,
            lines=[(shop.lines[NECKLACE], 1), (shop.lines[RING], 2)],
            actor=STAFF,
        ),
        Conflict,
    )
    assert (error.code, error.field, error.extra) == (
        "quantity_exceeds_expected",
        "lines.1.quantity",
        {"expected_quantity": 1},
    )


@pytest.mark.parametrize(
    ("lines", "code", "field"),
    [
        ([("other", 1)], "unknown_return_line", "lines.0.return_line_id"),
        ([("ring", 1), ("ring", 1)], "duplicate_return_line", "lines.1.return_line_id"),
        ([("ring", 0)], "invalid_quantity", "lines.0.quantity"),
    ],
)
def test_lines_that_are_not_the_returns_are_refused(
    factory: sessionmaker[Session], lines: list[tuple[str, int]], code: str, field: str
) -> None:
    shop = seed(factory)
    other = seed(factory)  # another shop's return line
    ids = {"ring": shop.lines[RING], "other": other.lines[RING]}
    error = refused(
        factory,
        lambda session: service.receive_parcel(
            session, shop.merchant_id, shop.return_id, lines=[(ids[k], q) for k, q in lines], actor=STAFF
        ),
        InvalidInput,
    )
    assert (error.code, error.field) == (code, field)


def test_an_empty_box_is_recorded_and_starts_the_return_without_units(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    receipt_id = receive(factory, shop, [], weight_grams=35, notes="écrin vide")
    with unit_of_work(factory, write=False) as session:
        receipt = session.get(Receipt, receipt_id)
        assert receipt is not None and (receipt.outcome, receipt.weight_grams, receipt.notes) == (
            "empty_box",
            35,
            "écrin vide",
        )
        assert ledger(session, shop.lines[RING]) == (2, 0, 0, 0, 0)
        assert service.units_of_return(session, shop.merchant_id, shop.return_id) == []
        request = return_request_service.get_return(session, shop.merchant_id, shop.return_id)
        assert request.status == "in_progress"  # a parcel arrived; what to do about it is a person's call
        assert events(session, shop.return_id)[2][1]["outcome"] == "empty_box"  # type: ignore[index]


def test_unexpected_items_get_their_own_units_outside_the_ledger(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    with unit_of_work(factory) as session:
        receipt = service.receive_parcel(
            session,
            shop.merchant_id,
            shop.return_id,
            lines=[(shop.lines[RING], 2)],
            unexpected=[("RING-SILVER-50", 1)],
            actor=STAFF,
        )
        assert receipt.outcome == "unexpected_items"
    with unit_of_work(factory) as session:
        wrong = service.receive_parcel(
            session, shop.merchant_id, shop.return_id, unexpected=[("BRACELET", 1)], outcome="wrong_item", actor=STAFF
        )
        assert wrong.outcome == "wrong_item"
    with unit_of_work(factory, write=False) as session:
        units = service.units_of_return(session, shop.merchant_id, shop.return_id)
        assert [(u.sku, u.return_line_id, u.title) for u in units] == [
            (RING, shop.lines[RING], "Bague Lune or 52"),
            (RING, shop.lines[RING], "Bague Lune or 52"),
            ("RING-SILVER-50", None, "RING-SILVER-50"),
            ("BRACELET", None, "BRACELET"),
        ]
        assert ledger(session, shop.lines[RING]) == (2, 2, 0, 0, 0)


def test_a_declared_outcome_that_contradicts_the_parcel_is_refused(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    error = refused(
        factory,
        lambda session: service.receive_parcel(
            session, shop.merchant_id, shop.return_id, lines=[(shop.lines[RING], 1)], outcome="empty_box", actor=STAFF
        ),
        InvalidInput,
    )
    assert (error.code, error.field) == ("outcome_contradicts_lines", "outcome")
    assert error.extra["fr"].startswith("le colis ne peut pas être « empty_box »")


def test_a_cancelled_or_completed_return_cannot_receive(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    with unit_of_work(factory) as session:
        return_request_service.cancel_return(session, shop.merchant_id, shop.return_id, actor=STAFF)
    error = refused(
        factory,
        lambda session: service.receive_parcel(
            session, shop.merchant_id, shop.return_id, lines=[(shop.lines[RING], 1)], actor=STAFF
        ),
        Conflict,
    )
    assert (error.code, error.extra) == ("not_receivable", {"status": "cancelled"})


def test_the_parcel_scanned_is_marked_received_and_another_returns_parcel_is_refused(
    factory: sessionmaker[Session],
) -> None:
    shop = seed(factory)
    other = seed(factory)
    with unit_of_work(factory) as session:
        first = add_shipment(session, shop.merchant_id, shop.return_id, "RT1", status="in_transit")
        second = add_shipment(session, shop.merchant_id, shop.return_id, "RT2", status="delivered")
        foreign = add_shipment(session, other.merchant_id, other.return_id, "RT3")
    error = refused(
        factory,
        lambda session: service.receive_parcel(
            session, shop.merchant_id, shop.return_id, lines=[(shop.lines[RING], 1)], shipment_id=foreign, actor=STAFF
        ),
        NotFound,
    )
    assert (error.code, error.field) == ("unknown_shipment", "shipment_id")
    receive(factory, shop, [(shop.lines[RING], 1)], shipment_id=first)
    receive(factory, shop, [(shop.lines[RING], 1)])  # no parcel named: the one furthest along
    with unit_of_work(factory, write=False) as session:
        statuses = session.execute(select(Shipment.id, Shipment.status).order_by(Shipment.id)).all()
        assert [tuple(row) for row in statuses] == [(first, "received"), (second, "received"), (foreign, "in_transit")]


def test_another_shop_cannot_receive_a_return(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    with unit_of_work(factory) as session:
        intruder = factories.merchant(session).id
    error = refused(
        factory,
        lambda session: service.receive_parcel(
            session, intruder, shop.return_id, lines=[(shop.lines[RING], 1)], actor=STAFF
        ),
        NotFound,
    )
    assert error.code == "not_found"


# --- queues ---------------------------------------------------------------------------------------


def test_queue_counts_and_lists(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2, NECKLACE: 1})
    with unit_of_work(factory) as session:
        second = create_return(session, shop.merchant_id, {NECKLACE: 1})  # approved, parcel still awaited
    receive(factory, shop, [(shop.lines[RING], 2)])
    with unit_of_work(factory, write=False) as session:
        counts = service.queue_counts(session, shop.merchant_id)
        assert counts == service.QueueCounts(
            awaiting_parcel=1, to_inspect=2, to_dispose=0, in_repair=0, in_refurbishment=0, active_listings=0
        )
        awaiting = service.list_awaiting_parcel(session, shop.merchant_id)
        assert [request.id for request in awaiting.items] == [second.id]
        first_page = service.list_units(session, shop.merchant_id, limit=1)
        assert first_page.next_cursor is not None
        second_page = service.list_units(session, shop.merchant_id, limit=1, cursor=first_page.next_cursor)
        assert (len(first_page.items), len(second_page.items), second_page.next_cursor) == (1, 1, None)
        assert first_page.items[0].id < second_page.items[0].id
        with pytest.raises(InvalidInput):
            service.list_units(session, shop.merchant_id, cursor="bm9wZQ")
