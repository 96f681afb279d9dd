"""Warehouse races with real threads, each with its own transaction, on SQLite and PostgreSQL: two
parcels recorded for the last units of a line, two inspectors on one unit, two sales of the last
unit in stock. The row locks (PostgreSQL) or the write transaction (SQLite) let exactly one win."""

from __future__ import annotations

import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from retour.inventory import service as inventory_service
from retour.inventory.schemas import MovementIn
from retour.kit.db import unit_of_work
from retour.kit.errors import Conflict
from retour.models import InspectionUnit, InventoryMovement, ReturnLine
from retour.receiving import inspection
from retour.receiving import service as receiving_service
from retour.return_request import service as return_request_service
from tests.warehouse.builders import STAFF, seed

RING = "RING-GOLD-52"
JEWELRY_OK = {"authenticity": True, "stone_setting": True, "clasp": True, "metal": True}


def race(
    engine: Engine,
    factory: sessionmaker[Session],
    act: Callable[[Session], Any],
    before: Callable[[Session], Any],
    contenders: int = 2,
) -> list[Any]:
    """Run ``act`` in ``contenders`` threads at once, each in its own transaction. On PostgreSQL they
    meet inside their transactions, after ``before`` read what they are about to change; on SQLite
    (a writer holds the database from ``BEGIN IMMEDIATE``) just before starting them."""
    barrier = threading.Barrier(contenders)
    inside = engine.dialect.name != "sqlite"
    results: list[Any] = [None] * contenders

    def run(index: int) -> None:
        try:
            if not inside:
                barrier.wait(timeout=30)
            with unit_of_work(factory) as session:
                if inside:
                    before(session)
                    barrier.wait(timeout=30)
                results[index] = act(session)
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def conflicts(results: list[Any]) -> list[str]:
    return sorted(result.code for result in results if isinstance(result, Conflict))


def test_two_parcels_racing_for_the_last_units_cannot_both_be_recorded(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    shop = seed(factory, {RING: 2})
    line_id = shop.lines[RING]
    results = race(
        engine,
        factory,
        lambda session: (
            receiving_service.receive_parcel(
                session, shop.merchant_id, shop.return_id, lines=[(line_id, 2)], actor=STAFF
            ).id
        ),
        before=lambda session: return_request_service.get_return(session, shop.merchant_id, shop.return_id).lines,
    )
    assert conflicts(results) == ["quantity_exceeds_expected"]
    with factory() as session:
        assert session.scalar(select(ReturnLine.received_quantity).where(ReturnLine.id == line_id)) == 2
        assert session.scalar(select(func.count()).select_from(InspectionUnit)) == 2


def test_two_inspectors_on_one_unit_record_one_inspection(engine: Engine, factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 1})
    with unit_of_work(factory) as session:
        receipt = receiving_service.receive_parcel(
            session, shop.merchant_id, shop.return_id, lines=[(shop.lines[RING], 1)], actor=STAFF
        )
        unit_id = receiving_service.describe_receipt(session, shop.merchant_id, receipt).units[0].id
    results = race(
        engine,
        factory,
        lambda session: (
            inspection.record_inspection(
                session,
                shop.merchant_id,
                unit_id,
                grade="new",
                answers=JEWELRY_OK,
                measured_weight_grams=Decimal(3),
                actor=STAFF,
            ).id
        ),
        before=lambda session: receiving_service.get_unit(session, shop.merchant_id, unit_id).status,
    )
    assert conflicts(results) == ["already_inspected"]
    with factory() as session:
        line = session.get(ReturnLine, shop.lines[RING])
        assert line is not None and (line.accepted_quantity, line.rejected_quantity) == (1, 0)


def test_two_sales_of_the_last_unit_in_stock_cannot_both_pass(engine: Engine, factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 1})
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
        inspection.apply_disposition(session, shop.merchant_id, unit_id, location_code="PARIS", actor=STAFF)
    sale = MovementIn(sku=RING, location_code="PARIS", kind="sale", quantity=1)
    results = race(
        engine,
        factory,
        lambda session: inventory_service.record_movement(session, shop.merchant_id, sale, actor=STAFF).id,
        before=lambda session: inventory_service.on_hand(session, shop.merchant_id, RING, "PARIS"),
    )
    assert conflicts(results) == ["insufficient_stock"]
    with factory() as session:
        assert session.scalar(select(func.sum(InventoryMovement.quantity))) == 0
