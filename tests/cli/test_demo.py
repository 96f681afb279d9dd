"""``retour demo``: the Maison Lune shop, loaded through the real services, on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker
from typer.testing import CliRunner

from retour.catalog import service as catalog_service
from retour.demo import bulk, loader
from retour.demo.catalog import build_catalog, picture_url
from retour.demo.orders import build_orders, gift_code, holiday_season
from retour.demo.people import VIP_EMAIL
from retour.demo.returns import STATUSES, plan_counts
from retour.inventory import service as inventory_service
from retour.kit import clock
from retour.kit.actor import Actor
from retour.kit.db import unit_of_work
from retour.merchant import service as merchant_service
from retour.models import (
    AuditEvent,
    Customer,
    InspectionUnit,
    InventoryMovement,
    Merchant,
    Order,
    OrderLine,
    OutboxMessage,
    Receipt,
    ResaleListing,
    ReturnRequest,
    Shipment,
    Tender,
)
from retour.order import service as order_service
from retour.outbox import service as outbox_service
from retour.policy import service as policy_service
from retour.portal import service as portal_service
from retour.portal.schemas import LookupIn
from retour.receiving import inspection
from retour.receiving import rules as receiving_rules
from retour.receiving import service as receiving_service
from retour.return_request import service as return_service
from retour.return_request.repository import ReturnFilters
from retour.settings import get_settings
from retour.shipment import rules as shipment_rules
from retour.shipment import service as shipment_service
from tests import factories

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
ORDERS = 150
# plan_counts(150): 16 returns, at least one in each state.
EXPECTED = {
    "approved": 2,
    "cancelled": 1,
    "completed": 8,
    "expired": 1,
    "in_progress": 2,
    "rejected": 1,
    "requested": 1,
}


def _load(
    factory: sessionmaker[Session], *, orders: int = ORDERS, force: bool = False
) -> tuple[loader.DemoResult, str]:
    output = io.StringIO()
    with clock.frozen(NOW):
        result = loader.run(factory, console=Console(file=output, width=200), orders=orders, force=force)
    return result, output.getvalue()


def test_plan_counts_cover_every_state() -> None:
    assert plan_counts(ORDERS) == EXPECTED
    assert sum(plan_counts(2000).values()) == 220
    assert min(plan_counts(10).values()) == 1


def test_demo_loads_the_shop_its_people_and_a_working_key(factory: sessionmaker[Session], client: TestClient) -> None:
    result, output = _load(factory)

    assert result.loaded and result.orders == ORDERS
    with factory() as session:
        merchant = merchant_service.get_merchant_by_slug(session, "maison-lune")
        assert (merchant.name, merchant.default_currency, merchant.default_language) == ("Maison Lune", "EUR", "fr")
        assert result.merchant_id == merchant.id
        assert policy_service.get_active(session, merchant.id).version == 2
        roles = {
            email: merchant_service.authenticate_staff(session, email=email, password=loader.PASSWORD).user.role
            for email, _name, _role in loader.STAFF
        }
        assert roles == {
            "admin@maison-lune.fr": "admin",
            "agent@maison-lune.fr": "agent",
            "entrepot@maison-lune.fr": "warehouse",
        }
        assert result.api_key is not None
        key = merchant_service.authenticate_api_key(session, result.api_key)
        assert (key.merchant_id, key.scopes) == (merchant.id, ["read", "refund", "write"])
        order_id = session.scalar(select(Order.id).where(Order.number == result.returnable[0].number))

    response = client.get(f"/api/v1/orders/{order_id}", headers={"Authorization": f"Bearer {result.api_key}"})
    assert response.status_code == 200, response.text
    assert response.json()["email"] == result.returnable[0].email
    for text in (
        "http://127.0.0.1:8000/backoffice",
        "http://127.0.0.1:8000/s/maison-lune/",
        loader.PASSWORD,
        result.api_key,
        *[item.number for item in result.returnable],
        *[item.email for item in result.returnable],
        *[email for email, _name, _role in loader.STAFF],
    ):
        assert text in output


def test_demo_returns_are_in_every_state_with_ledger_audit_and_outbox(factory: sessionmaker[Session]) -> None:
    result, _ = _load(factory)

    assert result.returns_by_status == EXPECTED
    with factory() as session:
        merchant_id = merchant_service.get_merchant_by_slug(session, "maison-lune").id
        assert return_service.count_by_status(session, merchant_id) == EXPECTED
        page = return_service.list_returns(session, merchant_id, ReturnFilters(), limit=100)
        assert len(page.items) == sum(EXPECTED.values())
        topics = Counter(session.scalars(select(OutboxMessage.topic)))
        for request in page.items:
            _check_ledger(request)
            events = return_service.timeline(session, merchant_id, request.id)
            moves = [event.action for event in events if event.action.removeprefix("return.") in STATUSES]
            assert moves[0] == "return.requested"
            assert moves[-1] == f"return.{request.status}"
            assert all(clock.as_utc(event.created_at) < NOW for event in events)
            assert request.policy_version == 2
            assert clock.as_utc(request.created_at) < NOW
        # One outbox row per move of a return, per label, per parcel received (the customer is told).
        audited = Counter(session.scalars(select(AuditEvent.action).where(AuditEvent.subject_type == "return_request")))
        told = {f"return.{status}" for status in STATUSES} | {"return.received", "shipment.label_created"}
        assert {topic: topics[topic] for topic in told} == {action: audited[action] for action in told}
        assert topics["return.requested"] == sum(EXPECTED.values())
        assert [r.number for r in sorted(page.items, key=lambda r: r.created_at)] == sorted(
            r.number for r in page.items
        )


def _check_ledger(request: ReturnRequest) -> None:
    for line in request.lines:
        quantities = (line.requested_quantity, line.approved_quantity, line.received_quantity)
        requested = line.requested_quantity
        if request.status in ("requested", "rejected"):
            assert quantities == (requested, 0, 0)
        elif request.status in ("approved", "cancelled", "expired"):
            assert quantities in ((requested, requested, 0), (requested, 0, 0))
            assert request.status == "cancelled" or line.approved_quantity == requested
        elif request.status == "in_progress":
            assert quantities == (requested, requested, requested)
            assert line.accepted_quantity + line.rejected_quantity <= requested
        else:
            assert quantities == (requested, requested, requested)
            assert line.accepted_quantity + line.rejected_quantity == requested
        assert line.restocked_quantity <= line.accepted_quantity
        # Nothing is settled: there is no refund or exchange service yet.
        assert (line.refunded_quantity, line.exchanged_quantity) == (0, 0)
    if request.status == "requested":
        assert request.needs_review and request.approved_at is None
    if request.status in ("rejected", "cancelled", "completed", "expired"):
        assert request.closed_at is not None


def test_the_printed_ring_return_has_a_label_the_warehouse_can_scan(factory: sessionmaker[Session]) -> None:
    result, output = _load(factory)

    assert result.scan_number is not None and f"scan {result.scan_number}" in output
    with factory() as session, clock.frozen(NOW):
        merchant_id = merchant_service.get_merchant_by_slug(session, "maison-lune").id
        request = return_service.find_by_number(session, merchant_id, result.scan_number)
        assert request is not None and request.status == "approved" and request.method == "prepaid_label"
        _, order_lines = return_service.context_for(session, merchant_id, [request])
        assert "rings" in {order_lines[line.order_line_id].category for line in request.lines}
        [parcel] = shipment_service.list_shipments(session, merchant_id, request.id)
        assert (parcel.carrier, parcel.status) == ("builtin", "delivered")
        assert parcel.tracking_number and parcel.qr_payload
        # The label's Code 128 (the RMA number), its QR code and the tracking number all open it.
        assert receiving_rules.parse_scan(parcel.qr_payload) == receiving_rules.ScanCode(
            request.number, parcel.tracking_number
        )
        for code in (request.number, request.number.replace("-", ""), parcel.qr_payload, parcel.tracking_number):
            scanned = receiving_service.find_return_for_scan(session, merchant_id, code)
            assert (scanned.request.id, scanned.shipment) == (request.id, parcel)
            assert [line.remaining_quantity for line in scanned.lines] == [
                line.approved_quantity for line in request.lines
            ]
        # Drawn on its first download (the load draws none: see journey._drawn_when_downloaded).
        assert parcel.label_path is not None
        label_file = get_settings().storage_dir / parcel.label_path
        assert not label_file.exists()
        pdf = shipment_service.get_label_pdf(session, merchant_id, parcel)
        assert pdf.startswith(b"%PDF") and label_file.read_bytes() == pdf


def test_the_printed_ring_is_received_inspected_and_restocked(factory: sessionmaker[Session]) -> None:
    result, _ = _load(factory)
    assert result.scan_number is not None
    staff = Actor("staff", "3", "Julien Roux")

    with unit_of_work(factory) as session, clock.frozen(NOW):
        merchant_id = merchant_service.get_merchant_by_slug(session, "maison-lune").id
        scanned = receiving_service.find_return_for_scan(session, merchant_id, result.scan_number)
        ring = next(item for item in scanned.lines if item.order_line.category == "rings")
        variant, _product = catalog_service.find_variants(session, merchant_id, [ring.order_line.sku])[
            ring.order_line.sku
        ]
        sellable_before = variant.inventory_quantity
        assert sellable_before is not None
        stock_before = inventory_service.stock(session, merchant_id, ring.order_line.sku).on_hand
        receiving_service.receive_parcel(
            session,
            merchant_id,
            scanned.request.id,
            actor=staff,
            lines=[(item.line.id, item.remaining_quantity) for item in scanned.lines],
            shipment_id=scanned.shipment.id if scanned.shipment else None,
        )
        unit = next(
            u
            for u in receiving_service.units_of_return(session, merchant_id, scanned.request.id)
            if u.return_line_id == ring.line.id
        )
        checklist = receiving_service.effective_checklist(session, merchant_id, unit.category)
        assert checklist.name == "jewelry"
        assert ring.expected_weight_grams is not None
        inspection.record_inspection(
            session,
            merchant_id,
            unit.id,
            grade="new",
            answers={item.code: item.passing for item in checklist.items if item.kind == "check"},
            measured_weight_grams=ring.expected_weight_grams,
            actor=staff,
        )
        done = inspection.apply_disposition(session, merchant_id, unit.id, actor=staff)
        assert (done.accepted, done.final_disposition, done.status) == (True, "restock", "done")
        assert inventory_service.stock(session, merchant_id, ring.order_line.sku).on_hand == stock_before + 1
        assert variant.inventory_quantity == sellable_before + 1


def test_approved_returns_have_their_labels_and_the_worker_makes_no_second_one(
    factory: sessionmaker[Session],
) -> None:
    from retour import tasks  # noqa: F401  (registers every outbox handler)

    _load(factory)

    with factory() as session:
        merchant_id = merchant_service.get_merchant_by_slug(session, "maison-lune").id
        approved = return_service.list_returns(session, merchant_id, ReturnFilters(status="approved")).items
        parcels = {r.number: shipment_service.list_shipments(session, merchant_id, r.id) for r in approved}
        assert len(approved) == EXPECTED["approved"]
        for request in approved:
            assert [p.status in ("label_created", "in_transit", "delivered") for p in parcels[request.number]] == [
                True
            ] or (request.method == "home_pickup" and parcels[request.number] == [])
        before = sorted(session.scalars(select(Shipment.id)))
        assert session.scalar(select(func.count()).where(Shipment.status == "label_pending")) == 0
    with clock.frozen(NOW):
        processed = outbox_service.drain(factory, max_attempts=3)

    with factory() as session:
        assert processed == session.scalar(select(func.count()).select_from(OutboxMessage))
        assert sorted(session.scalars(select(Shipment.id))) == before
        assert session.scalar(select(func.count()).where(OutboxMessage.status != "done")) == 0


def test_received_returns_went_through_the_warehouse(factory: sessionmaker[Session]) -> None:
    _load(factory)

    with factory() as session:
        merchant_id = merchant_service.get_merchant_by_slug(session, "maison-lune").id
        returns = return_service.list_returns(session, merchant_id, ReturnFilters(), limit=100).items
        restocked: Counter[str] = Counter()
        for request in returns:
            units = receiving_service.units_of_return(session, merchant_id, request.id)
            receipts = receiving_service.receipts_of_return(session, merchant_id, request.id)
            if request.status not in ("in_progress", "completed"):
                assert (units, receipts) == ([], [])
                continue
            _check_warehouse_ledger(request, units, receipts)
            _, order_lines = return_service.context_for(session, merchant_id, [request])
            for line in request.lines:
                restocked[order_lines[line.order_line_id].sku] += line.restocked_quantity
        movements = list(session.scalars(select(InventoryMovement).where(InventoryMovement.merchant_id == merchant_id)))
        assert {m.kind for m in movements} == {"restock"} and all(m.quantity == 1 for m in movements)
        # Stock on hand (the ledger) is exactly the units put back by the warehouse.
        on_hand = {sku: inventory_service.stock(session, merchant_id, sku).on_hand for sku in restocked}
        assert on_hand == +restocked | {sku: 0 for sku, count in restocked.items() if not count}
        assert sum(restocked.values()) == len(movements) > 0
        listings = list(session.scalars(select(ResaleListing).where(ResaleListing.merchant_id == merchant_id)))
        damaged = [item for item in listings if item.grade == "lightly_damaged" and item.status == "active"]
        assert damaged and all(item.price_amount < item.original_price_amount for item in damaged)
        counts = receiving_service.queue_counts(session, merchant_id)
        assert counts.awaiting_parcel == EXPECTED["approved"]
        assert counts.active_listings == len(listings)


def _check_warehouse_ledger(request: ReturnRequest, units: list[InspectionUnit], receipts: list[Receipt]) -> None:
    """Receipts, units and the return's ledger tell the same story, line by line."""
    assert len(receipts) == 1 and receipts[0].outcome == "as_expected"
    for line in request.lines:
        mine = [unit for unit in units if unit.return_line_id == line.id]
        assert sum(r.quantity for r in receipts[0].lines if r.return_line_id == line.id) == line.received_quantity
        assert len(mine) == line.received_quantity
        assert sum(unit.accepted is True for unit in mine) == line.accepted_quantity
        assert sum(unit.accepted is False for unit in mine) == line.rejected_quantity
        restocks = [unit for unit in mine if unit.final_disposition in ("restock", "repackage_and_restock")]
        assert len(restocks) == line.restocked_quantity
        assert all(unit.stock_location_id is not None for unit in restocks)
    if request.status == "completed":
        assert {unit.status for unit in units} == {"done"}
        assert all(unit.inspected_at and unit.checklist_answers["checklist"]["name"] == "jewelry" for unit in units)
        assert all(unit.measured_weight_milligrams for unit in units)


def test_printed_orders_can_be_returned_now(factory: sessionmaker[Session]) -> None:
    result, _ = _load(factory)

    assert len(result.returnable) == 3
    assert len({item.email for item in result.returnable}) == 3
    assert any(item.lines > 1 for item in result.returnable)
    with factory() as session, clock.frozen(NOW):
        merchant_id = merchant_service.get_merchant_by_slug(session, "maison-lune").id
        for item in result.returnable:
            order = order_service.find_order_by_number(session, merchant_id, item.number)
            assert order is not None and order.email == item.email and order.delivered_at is not None
            evaluation = return_service.evaluate_order(session, merchant_id, order)
            assert [line.decision.status for line in evaluation.lines] == ["eligible"] * len(order.lines)
            assert all(line.decision.returnable_quantity == line.line.quantity for line in evaluation.lines)
            assert not any(line.is_final_sale for line in order.lines)
            assert return_service.list_returns(session, merchant_id, ReturnFilters(order_id=order.id)).items == []


def test_the_printed_gift_order_opens_a_gift_return_in_the_portal(factory: sessionmaker[Session]) -> None:
    result, output = _load(factory)

    assert result.gift is not None
    assert f"{result.gift.number}  gift code {result.gift.gift_code}" in output
    assert result.gift.number not in {item.number for item in result.returnable}
    assert result.gift.gift_code == gift_code(result.gift.number)
    with unit_of_work(factory) as session, clock.frozen(NOW):
        merchant_id = merchant_service.get_merchant_by_slug(session, "maison-lune").id
        order = order_service.find_order_by_number(session, merchant_id, result.gift.number)
        assert order is not None and "cadeau" in order.tags and order.gift_code == result.gift.gift_code
        lookup = LookupIn(
            mode="gift",
            order_number=result.gift.number,
            gift_code=result.gift.gift_code.lower().replace("-", " "),
            recipient_email="amie@example.org",
        )
        opened = portal_service.find_order(session, merchant_id, lookup, client_address="203.0.113.9")
        assert (opened.outcome, opened.order_id) == ("opened", order.id)
        evaluation = return_service.evaluate_order(session, merchant_id, order)
        assert [line.decision.status for line in evaluation.lines] == ["eligible"] * len(order.lines)
        # Only gift orders have a code.
        orders = session.scalars(select(Order).where(Order.merchant_id == merchant_id))
        assert all((o.gift_code is not None) == ("cadeau" in o.tags) for o in orders)


def test_every_demo_piece_has_a_picture_the_app_serves(factory: sessionmaker[Session], client: TestClient) -> None:
    _load(factory)

    catalog = build_catalog()
    pictures = {v.sku: picture_url(p.category, v.attributes["métal"]) for p in catalog for v in p.variants}
    assert len(set(pictures.values())) == 12
    for url in sorted(set(pictures.values())):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["content-type"].startswith("image/svg+xml")
        assert response.content.startswith(b"<svg ") and len(response.content) < 1000
    with factory() as session:
        merchant_id = merchant_service.get_merchant_by_slug(session, "maison-lune").id
        lines = list(session.scalars(select(OrderLine).where(OrderLine.merchant_id == merchant_id)))
        assert lines and all(line.image_url == pictures[line.sku] for line in lines)
        products = catalog_service.find_variants(session, merchant_id, sorted(pictures))
        assert all(product.image_url in pictures.values() for _variant, product in products.values())


def test_demo_data_exercises_the_policy(factory: sessionmaker[Session]) -> None:
    _load(factory)

    with factory() as session, clock.frozen(NOW):
        merchant_id = merchant_service.get_merchant_by_slug(session, "maison-lune").id
        orders = list(
            session.scalars(select(Order).where(Order.merchant_id == merchant_id).options(selectinload(Order.lines)))
        )
        states = Counter((o.shipped_at is not None, o.delivered_at is not None) for o in orders)
        assert states[True, True] > 0.8 * ORDERS
        assert states[True, False] > 0 and states[False, False] > 0
        assert Counter(o.country for o in orders).keys() >= {"FR", "BE"}
        assert {o.language for o in orders} == {"fr", "en"}
        lines = list(session.scalars(select(OrderLine).where(OrderLine.merchant_id == merchant_id)))
        assert any(line.is_final_sale for line in lines) and any(line.discount_amount for line in lines)
        assert {line.category for line in lines} == {"rings", "necklaces", "earrings", "bracelets"}
        assert session.scalar(select(func.count()).where(Tender.kind == "gift_card")) > 0
        vip = session.scalars(select(Customer).where(Customer.email == VIP_EMAIL)).one()
        assert vip.tags == ["vip"]
        assert sum(o.customer_id == vip.id for o in orders) >= 3
        rules_fired = set()
        holiday_start, _ = holiday_season(NOW.date())
        for order in orders:
            for item in return_service.evaluate_order(session, merchant_id, order).lines:
                rules_fired |= {explanation.rule_id for explanation in item.decision.explanations}
                if clock.as_utc(order.placed_at).date() >= holiday_start and order.delivered_at:
                    assert item.decision.deadline == date(2027, 1, 31)
        assert rules_fired >= {"final-sale", "holidays", "vip", "discounted", "earrings-hygiene", "high-value"}


def test_the_shops_locations_and_settings_tell_the_same_story(factory: sessionmaker[Session]) -> None:
    _load(factory, orders=30)

    with factory() as session:
        merchant = merchant_service.get_merchant_by_slug(session, "maison-lune")
        locations = {
            (item.code, item.kind): item.countries_served
            for item in inventory_service.list_locations(session, merchant.id)
        }
        assert locations == {
            ("LYON", "warehouse"): ["CH", "DE", "FR"],
            ("BRUXELLES", "warehouse"): ["BE"],
            ("PARIS-MARAIS", "store"): [],
        }
        settings = merchant.settings
        for country in ("FR", "BE", "CH", "DE", "IT"):
            located = shipment_service.return_address_for(session, merchant, country)
            assert located == shipment_rules.return_address_from_settings(settings, country, shop_name=merchant.name)
        belgium = shipment_service.return_address_for(session, merchant, "BE")
        assert (belgium.name, belgium.lines, belgium.postal_code, belgium.city) == (
            "Maison Lune - Relais Bruxelles",
            ("27 rue du Marché",),
            "1000",
            "Bruxelles",
        )
        [store] = shipment_service.stores_for(session, merchant)
        [configured] = shipment_rules.stores_from_settings(settings)
        assert (
            (store.code, store.name, store.address, store.city, store.country)
            == (
                configured.code,
                configured.name,
                configured.address,
                configured.city,
                configured.country,
            )
            == ("PARIS-MARAIS", "Boutique Paris Marais", "8 rue des Francs-Bourgeois", "Paris", "FR")
        )


def test_demo_is_loaded_once(factory: sessionmaker[Session]) -> None:
    _load(factory, orders=40)

    again, output = _load(factory, orders=40)
    forced, forced_output = _load(factory, orders=40, force=True)

    assert not again.loaded and not forced.loaded
    assert "already there" in output and "retour create-api-key --shop maison-lune" in output
    assert "admin@maison-lune.fr" in output and loader.PASSWORD in output
    assert "already there" in forced_output
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Merchant)) == 1
        assert session.scalar(select(func.count()).select_from(Order)) == 40


def test_demo_waits_for_force_next_to_another_shop(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        factories.merchant(session, slug="autre-boutique")

    skipped, output = _load(factory, orders=30)
    loaded, _ = _load(factory, orders=30, force=True)

    assert not skipped.loaded and "--force" in output
    assert loaded.loaded
    with factory() as session:
        assert sorted(session.scalars(select(Merchant.slug))) == ["autre-boutique", "maison-lune"]


def test_catalog_and_orders_are_realistic_and_deterministic() -> None:
    catalog = build_catalog()
    variants = [variant for product in catalog for variant in product.variants]
    assert len({variant.sku for variant in variants}) == len(variants)
    assert (min(v.price_amount for v in variants), max(v.price_amount for v in variants)) == (3900, 190000)
    ring_sizes = {v.attributes.get("taille") for p in catalog if p.category == "rings" for v in p.variants}
    assert ring_sizes == {"48", "50", "52", "54", "56", "58", "60"}
    assert {v.attributes["métal"] for v in variants} == {"or jaune", "or blanc", "argent"}
    assert any(v.is_final_sale and "gravure" in v.attributes for v in variants)
    assert all(v.weight_grams for v in variants)

    first = build_orders(catalog, count=300, now=NOW)
    assert first == build_orders(catalog, count=300, now=NOW)
    assert len(first) == 300
    assert all(order.placed_at <= NOW for order in first)
    # A full delivery address, so that a real carrier could make the labels of the demo shop.
    addresses = [order.shipping_address for order in first]
    assert all(a.name and len(a.lines) == 1 and a.city and a.postal_code for a in addresses)
    assert {(a.postal_code, a.city) for a in addresses if a.postal_code == "69003"} == {("69003", "Lyon")}


def test_orders_reach_back_to_the_previous_holidays_when_the_window_misses_them() -> None:
    june = datetime(2026, 6, 10, 12, tzinfo=UTC)
    orders = build_orders(build_catalog(), count=500, now=june)
    holiday = [o for o in orders if date(2025, 11, 15) <= o.placed_at.date() <= date(2025, 12, 31)]
    assert len(holiday) == 500 // 25 - 1  # a twenty-fifth of the non-VIP orders
    assert len(orders) == 500


def test_bulk_orders_are_stored_exactly_as_the_order_service_stores_them(factory: sessionmaker[Session]) -> None:
    catalog = build_catalog()
    payloads = build_orders(catalog, count=120, now=NOW)
    with unit_of_work(factory) as session, clock.frozen(NOW):
        fast, slow = factories.merchant(session, slug="fast"), factories.merchant(session, slug="slow")
        for shop_id in (fast.id, slow.id):
            for product in catalog:
                catalog_service.upsert_product(session, shop_id, product)
        bulk.insert_new_orders(session, fast.id, payloads)
        for payload in payloads:
            with clock.frozen(payload.placed_at):
                order_service.upsert_order(session, slow.id, payload)
        ids = (fast.id, slow.id)

    without_ids: Any = {"id": True, "customer_id": True, "lines": {"__all__": {"id"}}}
    with factory() as session:
        for payload in payloads:
            fast_order, slow_order = (order_service.find_order_by_number(session, i, payload.number) for i in ids)
            assert fast_order is not None and slow_order is not None
            assert order_service.order_out(fast_order).model_dump(exclude=without_ids) == order_service.order_out(
                slow_order
            ).model_dump(exclude=without_ids)
            assert [line.variant_id is not None for line in fast_order.lines] == [
                line.variant_id is not None for line in slow_order.lines
            ]
            assert clock.as_utc(fast_order.created_at) == clock.as_utc(slow_order.created_at) == payload.placed_at
        people = {
            shop_id: sorted(
                (c.email, c.name, c.language, c.tags, clock.as_utc(c.created_at))
                for c in session.scalars(select(Customer).where(Customer.merchant_id == shop_id))
            )
            for shop_id in ids
        }
        assert people[fast.id] == people[slow.id]
        assert len(people[fast.id]) == len({payload.customer.email for payload in payloads})


@pytest.fixture
def cli_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    from retour.settings import get_settings

    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("RETOUR_DATABASE_URL", url)
    monkeypatch.delenv("RETOUR_BASE_URL", raising=False)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()


def test_demo_command_end_to_end(cli_database: str) -> None:
    from retour.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["migrate"]).exit_code == 0

    first = runner.invoke(app, ["demo", "--orders", "40"])
    second = runner.invoke(app, ["demo"])

    assert first.exit_code == 0, first.output
    assert "Maison Lune is ready" in first.output and "lune-demo-2026" in first.output
    assert second.exit_code == 0 and "already there" in second.output
