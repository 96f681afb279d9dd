"""Restock routing from real demand, and restocks that put units back on sale, on both databases.

A location's recent sales of a SKU are the units in orders placed in the last 30 days and
delivered to a country it serves; demand is that minus its stock on hand. A restock adds the
unit to the variant's sellable quantity (what the portal's exchange screen offers), a write-off
takes it away, each with an outbox message for the shop platform."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from retour.catalog import service as catalog_service
from retour.catalog.schemas import ProductIn
from retour.inventory import service as inventory_service
from retour.inventory.schemas import LocationIn, MovementIn
from retour.kit.db import unit_of_work
from retour.kit.errors import Conflict
from retour.models import OutboxMessage, Variant
from retour.receiving import inspection
from retour.receiving import service as receiving_service
from tests import factories
from tests.warehouse.builders import STAFF, Seeded, refused, seed

RING = "RING-GOLD-52"
NECKLACE = "NECK-SILVER"
HEADPHONES = "HEADPHONES"
JEWELRY_OK = {"authenticity": True, "stone_setting": True, "clasp": True, "metal": True}


def order(session: Session, merchant_id: int, country: str, sku: str, quantity: int, *, days_ago: int) -> None:
    """An order of ``quantity`` units of ``sku`` delivered to ``country``, placed ``days_ago`` days ago."""
    line = {**factories.order_payload()["lines"][0], "sku": sku, "quantity": quantity, "tax_amount": 0}
    factories.order(
        session,
        merchant_id,
        shipping_address={"country": country},
        lines=[line],
        tenders=[],
        delivered_days_ago=days_ago - 3,
    )


def restock(factory: sessionmaker[Session], shop: Seeded, location: str | None = None) -> dict[str, Any]:
    """One ring of the seeded return received, inspected as new and restocked (at ``location``, or
    where routing sends it); answers the audit details of the disposition."""
    with unit_of_work(factory) as session:
        receipt = receiving_service.receive_parcel(
            session, shop.merchant_id, shop.return_id, lines=[(shop.lines[RING], 1)], actor=STAFF
        )
        unit_id = receiving_service.describe_receipt(session, shop.merchant_id, receipt).units[0].id
        inspection.record_inspection(
            session,
            shop.merchant_id,
            unit_id,
            grade="new",
            answers=JEWELRY_OK,
            measured_weight_grams=Decimal(3),
            actor=STAFF,
        )
        unit = inspection.dispose_unit(session, shop.merchant_id, unit_id, location_code=location, actor=STAFF)
        return {"location_id": unit.stock_location_id}


@pytest.fixture
def shop(factory: sessionmaker[Session]) -> Seeded:
    """PARIS (default, FR), LYON (BE), NANTES (FR and CH); the seeded order: 2 rings to FR, 8 days
    ago. Plus orders that count (5 rings to BE, 1 to CH) and orders that do not: too old, another
    SKU, another shop."""
    shop = seed(factory, {RING: 2})
    with unit_of_work(factory) as session:
        inventory_service.create_location(
            session,
            shop.merchant_id,
            LocationIn(code="NANTES", name="Nantes", countries_served=["fr", "CH"]),
            actor=STAFF,
        )
        order(session, shop.merchant_id, "BE", RING, 5, days_ago=3)
        order(session, shop.merchant_id, "CH", RING, 1, days_ago=29)
        order(session, shop.merchant_id, "BE", RING, 4, days_ago=31)  # outside the 30 days
        order(session, shop.merchant_id, "FR", NECKLACE, 3, days_ago=2)  # another SKU
        other = factories.merchant(session)
        order(session, other.id, "BE", RING, 9, days_ago=1)  # another shop
    return shop


def test_the_unit_goes_where_recent_orders_minus_stock_is_highest(factory: sessionmaker[Session], shop: Seeded) -> None:
    restock(factory, shop, "LYON")  # LYON now holds one ring
    with unit_of_work(factory, write=False) as session:
        choice = inventory_service.route_restock(session, shop.merchant_id, RING)
    # Recent sales: PARIS 2 (FR), LYON 5 (BE), NANTES 3 (FR + CH); minus stock: 0, 1, 0.
    assert (choice.location, choice.rule_id, choice.scores) == (
        "LYON",
        "highest_demand",
        (("PARIS", 2), ("LYON", 4), ("NANTES", 3)),
    )
    assert choice.en == (
        "LYON has the highest demand for RING-GOLD-52 (4): 5 unit(s) ordered in the last 30 days "
        "from the countries it serves, 1 in stock."
    )
    assert choice.fr == (
        "LYON a la plus forte demande pour RING-GOLD-52 (4) : 5 unité(s) commandée(s) ces 30 derniers "
        "jours dans les pays qu'il dessert, 1 en stock."
    )
    details = restock(factory, shop)  # the second ring follows the routing
    with unit_of_work(factory, write=False) as session:
        assert details["location_id"] == inventory_service.get_location(session, shop.merchant_id, "LYON").id
        assert inventory_service.on_hand(session, shop.merchant_id, RING, "LYON") == 2


def test_the_shop_fixed_location_wins_over_demand(factory: sessionmaker[Session], shop: Seeded) -> None:
    with unit_of_work(factory, write=False) as session:
        choice = inventory_service.route_restock(session, shop.merchant_id, RING, fixed_location=" paris ")
    assert (choice.location, choice.rule_id, choice.en, choice.scores) == (
        "PARIS",
        "fixed_location",
        "The shop restocks every returned unit at PARIS.",
        (),
    )


def test_equal_demand_goes_to_the_default_location(factory: sessionmaker[Session], shop: Seeded) -> None:
    with unit_of_work(factory) as session:
        order(session, shop.merchant_id, "BE", NECKLACE, 3, days_ago=1)  # LYON 3, PARIS 3 and NANTES 3
    with unit_of_work(factory, write=False) as session:
        necklace = inventory_service.route_restock(session, shop.merchant_id, NECKLACE)
        nothing = inventory_service.route_restock(session, shop.merchant_id, HEADPHONES)
    assert (necklace.location, necklace.rule_id, necklace.scores) == (
        "PARIS",
        "demand_tie",
        (("PARIS", 3), ("LYON", 3), ("NANTES", 3)),
    )
    assert necklace.en == "Demand for NECK-SILVER is the same everywhere (3): restocked at the first location, PARIS."
    assert (nothing.location, nothing.rule_id, nothing.scores) == (
        "PARIS",
        "demand_tie",
        (("PARIS", 0), ("LYON", 0), ("NANTES", 0)),
    )


def test_routing_reads_demand_in_two_grouped_queries(factory: sessionmaker[Session], shop: Seeded) -> None:
    with unit_of_work(factory) as session:
        for days_ago in range(1, 21):
            order(session, shop.merchant_id, "BE", RING, 1, days_ago=days_ago)
    statements: list[tuple[str, Any]] = []
    with unit_of_work(factory, write=False) as session:
        engine = session.get_bind()
        assert isinstance(engine, Engine)

        def record(*args: Any) -> None:
            if args[2].lstrip().upper().startswith("SELECT"):  # not SQLite's BEGIN
                statements.append((args[2], args[3]))

        event.listen(engine, "before_cursor_execute", record)
        try:
            choice = inventory_service.route_restock(session, shop.merchant_id, RING)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert choice.scores == (("PARIS", 2), ("LYON", 25), ("NANTES", 3))
        # The locations, then units ordered per country and stock per location: one query each.
        assert len(statements) == 3
        assert sum("GROUP BY" in statement for statement, _ in statements) == 2
        if engine.dialect.name == "sqlite":
            sales, parameters = next(item for item in statements if "order_line" in item[0])
            plan = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sales}", parameters).all()
            assert any("ix_order_line_merchant_id_sku" in str(row) for row in plan), plan


# --- restocks and the sellable quantity -----------------------------------------------------------


def set_stock(session: Session, merchant_id: int, quantity: int | None) -> None:
    catalog_service.upsert_product(
        session,
        merchant_id,
        ProductIn.model_validate(
            {
                "external_id": "ring-lune",
                "title": "Bague Lune or",
                "category": "rings",
                "variants": [{"sku": RING, "price_amount": 12900, "weight_grams": 3, "inventory_quantity": quantity}],
            }
        ),
    )


def sellable(session: Session, merchant_id: int) -> int | None:
    return session.scalars(
        select(Variant.inventory_quantity).where(Variant.merchant_id == merchant_id, Variant.sku == RING)
    ).one()


def stock_messages(session: Session, merchant_id: int) -> list[tuple[str, dict[str, Any]]]:
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.merchant_id == merchant_id, OutboxMessage.topic.like("inventory.%"))
        .order_by(OutboxMessage.id)
    )
    return [(row.topic, row.payload) for row in rows]


def test_a_restocked_unit_is_on_sale_again_and_a_write_off_takes_it_away(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2})
    with unit_of_work(factory) as session:
        set_stock(session, shop.merchant_id, 0)  # sold out: the portal offers no exchange for it
    restock(factory, shop, "PARIS")
    with unit_of_work(factory, write=False) as session:
        variant = catalog_service.find_variants(session, shop.merchant_id, [RING])[RING][0]
        assert (variant.inventory_quantity, catalog_service.in_stock(variant)) == (1, True)
        restocked = stock_messages(session, shop.merchant_id)
        movement_id = restocked[0][1]["movement_id"]
        assert restocked == [
            (
                "inventory.restocked",
                {"sku": RING, "location": "PARIS", "quantity": 1, "movement_id": movement_id, "inventory_quantity": 1},
            )
        ]
    with unit_of_work(factory) as session:
        written_off = inventory_service.record_movement(
            session,
            shop.merchant_id,
            MovementIn(sku=RING, location_code="PARIS", kind="write_off", quantity=1, note="rayée"),
            actor=STAFF,
        )
    with unit_of_work(factory, write=False) as session:
        assert sellable(session, shop.merchant_id) == 0
        assert stock_messages(session, shop.merchant_id)[1:] == [
            (
                "inventory.written_off",
                {
                    "sku": RING,
                    "location": "PARIS",
                    "quantity": 1,
                    "movement_id": written_off.id,
                    "inventory_quantity": 0,
                },
            )
        ]


def test_a_refused_write_off_changes_neither_stock_nor_the_sellable_quantity(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2})
    with unit_of_work(factory) as session:
        set_stock(session, shop.merchant_id, 4)
    restock(factory, shop, "PARIS")
    error = refused(
        factory,
        lambda session: inventory_service.record_movement(
            session,
            shop.merchant_id,
            MovementIn(sku=RING, location_code="PARIS", kind="write_off", quantity=2),
            actor=STAFF,
        ),
        Conflict,
    )
    assert (error.code, error.extra) == ("insufficient_stock", {"on_hand": 1})
    with unit_of_work(factory, write=False) as session:
        assert sellable(session, shop.merchant_id) == 5
        assert [topic for topic, _ in stock_messages(session, shop.merchant_id)] == ["inventory.restocked"]


def test_a_variant_whose_stock_is_not_tracked_stays_untracked(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2})  # the catalogue sends no stock: every variant is offered
    other = seed(factory, {RING: 2})
    with unit_of_work(factory) as session:
        set_stock(session, other.merchant_id, 7)
    restock(factory, shop, "LYON")
    with unit_of_work(factory, write=False) as session:
        assert sellable(session, shop.merchant_id) is None
        assert sellable(session, other.merchant_id) == 7  # another shop's same SKU is left alone
        assert [
            (topic, payload["inventory_quantity"]) for topic, payload in stock_messages(session, shop.merchant_id)
        ] == [("inventory.restocked", None)]
