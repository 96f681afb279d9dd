"""A return approved by a person after review gets its label through the outbox worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import retour.tasks  # noqa: F401  (registers the outbox handlers, as the worker does)
from retour.kit.actor import Actor
from retour.kit.db import unit_of_work
from retour.models import Merchant, OutboxMessage, Shipment
from retour.outbox import service as outbox_service
from retour.policy import service as policy_service
from retour.policy.defaults import DEFAULT_POLICY
from retour.return_request import service as return_service
from retour.return_request.schemas import ReturnIn
from retour.settings import get_settings
from retour.shipment import providers
from retour.shipment.carriers import CarrierFinalError, CarrierRetryableError
from tests import factories
from tests.shipment.test_tracking import FakeCarrier

REVIEW_ALL = {
    "defaults": {
        **DEFAULT_POLICY["defaults"],
        "methods": ["prepaid_label", "drop_off", "customer_ships", "in_store", "home_pickup"],
    },
    "rules": [{"id": "review", "name": {"en": "Review", "fr": "Examen"}, "when": {}, "then": {"manual_review": True}}],
}
STAFF = Actor("staff", "1", "Agent")


@pytest.fixture
def storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("RETOUR_STORAGE_DIR", str(tmp_path / "storage"))
    get_settings.cache_clear()
    yield tmp_path / "storage"
    get_settings.cache_clear()


def _reviewed_return(factory: sessionmaker[Session], method: str) -> tuple[int, int]:
    with unit_of_work(factory) as session:
        merchant = factories.merchant(session)
        policy_service.publish(session, merchant_id=merchant.id, raw=REVIEW_ALL, actor=STAFF)
        order = factories.order(session, merchant.id)
        request = return_service.request_return(
            session,
            merchant.id,
            ReturnIn.model_validate(
                {
                    "order_id": order.id,
                    "resolution": "refund",
                    "method": method,
                    "lines": [{"order_line_id": order.lines[0].id, "quantity": 1, "reason_code": "too_small"}],
                }
            ),
            actor=STAFF,
        )
        assert request.status == "requested"
        return merchant.id, request.id


def _shipments(factory: sessionmaker[Session], return_id: int) -> list[Shipment]:
    with factory() as session:
        return list(session.scalars(select(Shipment).where(Shipment.return_request_id == return_id)))


def test_label_is_created_when_a_reviewed_return_is_approved(factory: sessionmaker[Session], storage: Path) -> None:
    merchant_id, return_id = _reviewed_return(factory, "prepaid_label")
    outbox_service.drain(factory)
    assert _shipments(factory, return_id) == []
    with unit_of_work(factory) as session:
        return_service.approve_return(session, merchant_id, return_id, actor=STAFF)
    outbox_service.drain(factory)
    shipments = _shipments(factory, return_id)
    assert [(s.method, s.status) for s in shipments] == [("prepaid_label", "label_created")]
    assert shipments[0].tracking_number
    assert (storage / str(merchant_id) / "labels" / "R-000001.pdf").read_bytes().startswith(b"%PDF")
    with factory() as session:
        dead = session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "done"))
    assert dead == 0


def test_running_the_handler_twice_makes_one_label(factory: sessionmaker[Session], storage: Path) -> None:
    merchant_id, return_id = _reviewed_return(factory, "drop_off")
    with unit_of_work(factory) as session:
        return_service.approve_return(session, merchant_id, return_id, actor=STAFF)
    outbox_service.drain(factory)
    with factory() as session:
        session.execute(
            OutboxMessage.__table__.update()
            .where(OutboxMessage.topic == "return.approved")
            .values(status="pending", attempts=0)
        )
        session.commit()
    outbox_service.drain(factory)
    assert len(_shipments(factory, return_id)) == 1


def test_customer_ships_gets_its_parcel_record_without_a_carrier_label(
    factory: sessionmaker[Session], storage: Path
) -> None:
    merchant_id, return_id = _reviewed_return(factory, "customer_ships")
    with unit_of_work(factory) as session:
        return_service.approve_return(session, merchant_id, return_id, actor=STAFF)
    outbox_service.drain(factory)
    assert [s.method for s in _shipments(factory, return_id)] == ["customer_ships"]


def _use_carrier(factory: sessionmaker[Session], merchant_id: int) -> None:
    with unit_of_work(factory) as session:
        merchant = session.get(Merchant, merchant_id)
        assert merchant is not None
        merchant.settings = {"carrier": {"provider": "easypost", "api_key": "EZ_test", "webhook_secret": "s"}}


@pytest.mark.parametrize(
    ("failure", "status", "attempts"),
    [
        (CarrierFinalError("to_address.street1: required"), "dead", 1),
        (CarrierRetryableError("timeout after 10 s"), "pending", 1),
    ],
)
def test_a_carrier_refusal_is_dead_lettered_at_once_and_an_outage_retried(
    factory: sessionmaker[Session],
    storage: Path,
    monkeypatch: pytest.MonkeyPatch,
    failure: Exception,
    status: str,
    attempts: int,
) -> None:
    carrier = FakeCarrier()
    carrier.fail_with = failure
    monkeypatch.setitem(providers.FACTORIES, "easypost", lambda settings: carrier)
    merchant_id, return_id = _reviewed_return(factory, "prepaid_label")
    _use_carrier(factory, merchant_id)
    with unit_of_work(factory) as session:
        return_service.approve_return(session, merchant_id, return_id, actor=STAFF)
    outbox_service.drain(factory)
    with factory() as session:
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "return.approved")).one()
        assert (message.status, message.attempts) == (status, attempts)
        assert str(failure) in (message.last_error or "")
    assert _shipments(factory, return_id) == []


@pytest.mark.parametrize(
    ("stores", "expected"),
    [
        ([{"code": "paris", "name": "Paris"}], [("in_store", "paris")]),
        ([{"code": "paris", "name": "Paris"}, {"code": "lyon", "name": "Lyon"}], []),
    ],
)
def test_a_return_in_store_gets_its_parcel_when_the_shop_has_one_store(
    factory: sessionmaker[Session], storage: Path, stores: list[dict[str, str]], expected: list[tuple[str, str]]
) -> None:
    merchant_id, return_id = _reviewed_return(factory, "in_store")
    with unit_of_work(factory) as session:
        merchant = session.get(Merchant, merchant_id)
        assert merchant is not None
        merchant.settings = {"stores": stores}
        return_service.approve_return(session, merchant_id, return_id, actor=STAFF)
    outbox_service.drain(factory)
    assert [(s.method, s.store_code) for s in _shipments(factory, return_id)] == expected


def test_a_home_pickup_waits_for_the_customers_slot(factory: sessionmaker[Session], storage: Path) -> None:
    merchant_id, return_id = _reviewed_return(factory, "home_pickup")
    with unit_of_work(factory) as session:
        return_service.approve_return(session, merchant_id, return_id, actor=STAFF)
    outbox_service.drain(factory)
    assert _shipments(factory, return_id) == []


def test_a_return_cancelled_by_staff_voids_its_label(factory: sessionmaker[Session], storage: Path) -> None:
    merchant_id, return_id = _reviewed_return(factory, "prepaid_label")
    with unit_of_work(factory) as session:
        return_service.approve_return(session, merchant_id, return_id, actor=STAFF)
    outbox_service.drain(factory)
    assert [s.status for s in _shipments(factory, return_id)] == ["label_created"]
    with unit_of_work(factory) as session:
        return_service.cancel_return(session, merchant_id, return_id, actor=STAFF)
    outbox_service.drain(factory)
    assert [s.status for s in _shipments(factory, return_id)] == ["cancelled"]
