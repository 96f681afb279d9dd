"""Stock locations and the inventory ledger against a real database (SQLite, and PostgreSQL when
configured), and a property test: whatever sequence of receive, inspect, restock, sale, write-off,
reservation and release, stock never goes negative and always equals the sum of the movements."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from retour.inventory import service
from retour.inventory.schemas import LocationIn, MovementIn
from retour.kit.db import begin_write, make_session_factory, unit_of_work
from retour.kit.errors import Conflict, InvalidInput, NotFound
from retour.models import InventoryMovement, ReturnLine
from retour.receiving import inspection
from retour.receiving import service as receiving_service
from tests.warehouse.builders import STAFF, Seeded, refused, seed

RING = "RING-GOLD-52"
JEWELRY_OK = {"authenticity": True, "stone_setting": True, "clasp": True, "metal": True}


def move(session: Session, shop: Seeded, kind: str, quantity: int, location: str = "PARIS", **kw: object) -> int:
    data = MovementIn.model_validate({"sku": RING, "location_code": location, "kind": kind, "quantity": quantity, **kw})
    return service.record_movement(session, shop.merchant_id, data, actor=STAFF).quantity


def restock_one(factory: sessionmaker[Session], shop: Seeded, location: str) -> None:
    """One ring received, inspected as new and restocked at ``location``."""
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
        inspection.dispose_unit(session, shop.merchant_id, unit_id, location_code=location, actor=STAFF)


# --- locations ------------------------------------------------------------------------------------


def test_the_first_location_is_the_default_until_another_takes_over(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, locations=())
    with unit_of_work(factory) as session:
        service.create_location(
            session,
            shop.merchant_id,
            LocationIn.model_validate(
                {
                    "code": "paris",
                    "name": "Entrepôt Paris",
                    "address": {
                        "lines": ["12 rue des Orfèvres"],
                        "postal_code": "75003",
                        "city": "Paris",
                        "country": "fr",
                    },
                    "countries_served": ["fr", "MC", "FR"],
                }
            ),
            actor=STAFF,
        )
        service.create_location(
            session,
            shop.merchant_id,
            LocationIn(code="BRU", name="Boutique Bruxelles", kind="store", countries_served=["BE", "LU"]),
            actor=STAFF,
        )
        service.create_location(
            session, shop.merchant_id, LocationIn(code="LYON", name="Entrepôt Lyon", is_default=True), actor=STAFF
        )
    with unit_of_work(factory, write=False) as session:
        listed = [service.location_out(location) for location in service.list_locations(session, shop.merchant_id)]
        assert [(item.code, item.kind, item.is_default, item.countries_served) for item in listed] == [
            ("LYON", "warehouse", True, []),
            ("BRU", "store", False, ["BE", "LU"]),
            ("PARIS", "warehouse", False, ["FR", "MC"]),
        ]
        assert listed[2].address == {
            "lines": ["12 rue des Orfèvres"],
            "postal_code": "75003",
            "city": "Paris",
            "country": "FR",
        }
        where = {
            country: location.code
            if (location := service.location_for_country(session, shop.merchant_id, country))
            else None
            for country in ("FR", "be", "DE")
        }
        assert where == {"FR": "PARIS", "be": "BRU", "DE": "LYON"}


def test_a_taken_location_code_is_refused(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    error = refused(
        factory,
        lambda session: service.create_location(
            session, shop.merchant_id, LocationIn(code="paris", name="Encore Paris", is_default=True), actor=STAFF
        ),
        Conflict,
    )
    assert (error.code, error.field) == ("location_exists", "code")
    other = seed(factory)  # another shop may use the same code
    with unit_of_work(factory) as session:
        assert service.get_location(session, other.merchant_id, "PARIS").merchant_id == other.merchant_id


def test_a_shop_without_a_location_cannot_restock(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, locations=())
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
    error = refused(
        factory, lambda session: inspection.apply_disposition(session, shop.merchant_id, unit_id, actor=STAFF), Conflict
    )
    assert error.code == "no_stock_location"


# --- the ledger -----------------------------------------------------------------------------------


def test_stock_on_hand_is_the_sum_of_the_movements_per_location(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2})
    restock_one(factory, shop, "PARIS")
    restock_one(factory, shop, "PARIS")
    with unit_of_work(factory) as session:
        assert move(session, shop, "reservation", 1, return_line_id=shop.lines[RING]) == -1
        assert move(session, shop, "release", 1, return_line_id=shop.lines[RING]) == 1
        assert move(session, shop, "sale", 1, note="vente boutique") == -1
    with unit_of_work(factory, write=False) as session:
        assert service.on_hand(session, shop.merchant_id, RING, "paris") == 1
        assert service.on_hand(session, shop.merchant_id, RING, "LYON") == 0
        assert service.stock(session, shop.merchant_id, RING).on_hand == 1
        ledger = service.list_movements(session, shop.merchant_id, sku=RING)
        assert [(item.kind, item.quantity, item.location_code, item.actor) for item in ledger] == [
            ("sale", -1, "PARIS", "Inès (entrepôt)"),
            ("release", 1, "PARIS", "Inès (entrepôt)"),
            ("reservation", -1, "PARIS", "Inès (entrepôt)"),
            ("restock", 1, "PARIS", "Inès (entrepôt)"),
            ("restock", 1, "PARIS", "Inès (entrepôt)"),
        ]
        assert [item.id for item in service.list_movements(session, shop.merchant_id, before_id=ledger[1].id)] == [
            item.id for item in ledger[2:]
        ]


@pytest.mark.parametrize(
    ("kind", "quantity", "extra", "error", "code", "field"),
    [
        ("sale", 2, {}, Conflict, "insufficient_stock", "quantity"),
        ("write_off", 2, {}, Conflict, "insufficient_stock", "quantity"),
        ("reservation", 2, {"return_line_id": "own"}, Conflict, "insufficient_stock", "quantity"),
        ("reservation", 1, {}, InvalidInput, "return_line_required", "return_line_id"),
        ("release", 1, {"return_line_id": "own"}, Conflict, "release_exceeds_reservation", "quantity"),
        ("release", 1, {"return_line_id": "foreign"}, NotFound, "unknown_return_line", "return_line_id"),
        ("sale", 1, {"location_code": "NANTES"}, NotFound, "unknown_location", "location_code"),
    ],
)
def test_movements_beyond_what_is_there_are_refused(
    factory: sessionmaker[Session],
    kind: str,
    quantity: int,
    extra: dict[str, object],
    error: type[Exception],
    code: str,
    field: str,
) -> None:
    shop = seed(factory)
    other = seed(factory)
    restock_one(factory, shop, "PARIS")
    lines = {"own": shop.lines[RING], "foreign": other.lines[RING]}
    data = {key: lines.get(value, value) if isinstance(value, str) else value for key, value in extra.items()}
    location = str(data.pop("location_code", "PARIS"))
    caught = refused(factory, lambda session: move(session, shop, kind, quantity, location, **data), error)  # type: ignore[arg-type]
    assert (caught.code, caught.field) == (code, field)
    if code == "insufficient_stock":
        assert caught.extra == {"on_hand": 1}


# --- the property ---------------------------------------------------------------------------------

LOCATIONS = ("PARIS", "LYON")
OPERATION = st.one_of(
    st.tuples(st.just("receive"), st.integers(1, 3), st.just("")),
    st.tuples(st.just("inspect"), st.sampled_from(["new", "open_box", "missing"]), st.just("")),
    st.tuples(st.just("restock"), st.just(1), st.sampled_from(LOCATIONS)),
    st.tuples(
        st.sampled_from(["sale", "write_off", "reservation", "release"]), st.integers(1, 3), st.sampled_from(LOCATIONS)
    ),
)


@pytest.fixture
def ledger_shop(sqlite_engine: Engine) -> tuple[sessionmaker[Session], Seeded]:
    """Committed once for every example; each example runs in a transaction rolled back at its end."""
    factory = make_session_factory(sqlite_engine)
    return factory, seed(factory, {RING: 4}, locations=LOCATIONS, ordered=4)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=st.lists(OPERATION, max_size=30))
def test_the_ledger_never_goes_negative_and_stock_is_the_sum_of_movements(
    ledger_shop: tuple[sessionmaker[Session], Seeded], operations: list[tuple[str, int, str]]
) -> None:
    factory, shop = ledger_shop
    session = factory()
    begin_write(session)
    try:
        model = _Model(shop, approved=4)
        for operation in operations:
            model.run(session, *operation)
            for location in LOCATIONS:
                derived = service.on_hand(session, shop.merchant_id, RING, location)
                summed = session.scalar(
                    select(func.coalesce(func.sum(InventoryMovement.quantity), 0))
                    .where(InventoryMovement.sku == RING)
                    .where(
                        InventoryMovement.stock_location_id
                        == service.get_location(session, shop.merchant_id, location).id
                    )
                )
                assert derived == summed == model.on_hand[location] >= 0
            line = session.get(ReturnLine, shop.lines[RING])
            assert line is not None
            assert line.received_quantity == model.received <= 4
            assert line.accepted_quantity + line.rejected_quantity <= line.received_quantity
            assert line.restocked_quantity <= line.accepted_quantity
    finally:
        session.rollback()
        session.close()


class _Model:
    """What the ledger should hold, kept by hand beside the services."""

    def __init__(self, shop: Seeded, approved: int) -> None:
        self.shop = shop
        self.approved = approved
        self.received = 0
        self.awaiting: list[int] = []
        self.inspected: list[tuple[int, bool]] = []
        self.on_hand = dict.fromkeys(LOCATIONS, 0)
        self.reserved = dict.fromkeys(LOCATIONS, 0)

    def run(self, session: Session, kind: str, quantity: int, location: str) -> None:
        if kind == "receive":
            self._receive(session, quantity)
        elif kind == "inspect":
            self._inspect(session, grade=str(quantity))
        elif kind == "restock":
            self._restock(session, location)
        else:
            self._move(session, kind, quantity, location)

    def _receive(self, session: Session, quantity: int) -> None:
        if self.received + quantity > self.approved:
            with pytest.raises(Conflict):
                receiving_service.receive_parcel(
                    session,
                    self.shop.merchant_id,
                    self.shop.return_id,
                    lines=[(self.shop.lines[RING], quantity)],
                    actor=STAFF,
                )
            return
        receipt = receiving_service.receive_parcel(
            session, self.shop.merchant_id, self.shop.return_id, lines=[(self.shop.lines[RING], quantity)], actor=STAFF
        )
        self.awaiting += [
            unit.id for unit in receiving_service.describe_receipt(session, self.shop.merchant_id, receipt).units
        ]
        self.received += quantity

    def _inspect(self, session: Session, grade: str) -> None:
        if not self.awaiting:
            return
        unit_id = self.awaiting.pop(0)
        unit = inspection.record_inspection(
            session,
            self.shop.merchant_id,
            unit_id,
            grade=grade,
            answers=JEWELRY_OK,
            measured_weight_grams=Decimal(3),
            actor=STAFF,
        )
        self.inspected.append((unit_id, bool(unit.accepted)))

    def _restock(self, session: Session, location: str) -> None:
        if not self.inspected:
            return
        unit_id, accepted = self.inspected.pop(0)
        if not accepted:
            with pytest.raises(Conflict):
                inspection.dispose_unit(
                    session, self.shop.merchant_id, unit_id, disposition="restock", reason="property", actor=STAFF
                )
            return
        inspection.dispose_unit(
            session,
            self.shop.merchant_id,
            unit_id,
            disposition="restock",
            reason="property",
            location_code=location,
            actor=STAFF,
        )
        self.on_hand[location] += 1

    def _move(self, session: Session, kind: str, quantity: int, location: str) -> None:
        line = {"return_line_id": self.shop.lines[RING]} if kind in ("reservation", "release") else {}
        data = MovementIn.model_validate(
            {"sku": RING, "location_code": location, "kind": kind, "quantity": quantity, **line}
        )
        allowed = quantity <= (self.reserved[location] if kind == "release" else self.on_hand[location])
        if not allowed:
            with pytest.raises(Conflict):
                service.record_movement(session, self.shop.merchant_id, data, actor=STAFF)
            return
        service.record_movement(session, self.shop.merchant_id, data, actor=STAFF)
        sign = 1 if kind == "release" else -1
        self.on_hand[location] += sign * quantity
        if kind in ("reservation", "release"):
            self.reserved[location] -= sign * quantity
