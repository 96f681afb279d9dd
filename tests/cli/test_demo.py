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
from retour.demo.catalog import build_catalog
from retour.demo.orders import build_orders, holiday_season
from retour.demo.people import VIP_EMAIL
from retour.demo.returns import plan_counts
from retour.kit import clock
from retour.kit.db import unit_of_work
from retour.merchant import service as merchant_service
from retour.models import AuditEvent, Customer, Merchant, Order, OrderLine, OutboxMessage, ReturnRequest, Tender
from retour.order import service as order_service
from retour.policy import service as policy_service
from retour.return_request import service as return_service
from retour.return_request.repository import ReturnFilters
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
            actions = [event.action for event in return_service.timeline(session, merchant_id, request.id)]
            assert actions[0] == "return.requested"
            assert actions[-1] == f"return.{request.status}"
            assert request.policy_version == 2
            assert clock.as_utc(request.created_at) < NOW
        # One outbox row per audited step of a return.
        audited = Counter(session.scalars(select(AuditEvent.action).where(AuditEvent.subject_type == "return_request")))
        assert topics == audited
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
            assert quantities in ((requested, requested, 0), (requested, requested, requested))
        else:
            assert quantities == (requested, requested, requested)
            assert line.accepted_quantity + line.rejected_quantity == requested
            assert line.refunded_quantity + line.exchanged_quantity == line.accepted_quantity
            assert line.exchanged_quantity == (line.accepted_quantity if request.resolution == "exchange" else 0)
    if request.status == "requested":
        assert request.needs_review and request.approved_at is None
    if request.status in ("rejected", "cancelled", "completed", "expired"):
        assert request.closed_at is not None


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
