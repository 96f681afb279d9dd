"""A return approved by a person after review gets its label through the outbox worker."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

import retour.tasks  # noqa: F401  (registers the outbox handlers, as the worker does)
from retour.integrations.easypost import EasyPostCarrier
from retour.integrations.shippo import ShippoCarrier
from retour.kit import clock
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
from retour.shipment import service as shipment_service
from retour.shipment.carriers import CarrierFinalError, CarrierRetryableError
from tests import factories
from tests.integrations.recorded import Answer, answer, pdf_file, recording
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


# A label never bought twice: the real EasyPost adapter over recorded answers, through the worker.

EASYPOST = "https://api.easypost.com/v2"
EASYPOST_SHIPMENT = "shp_9af92e0bdd6a428f8aba267686ab9cae"
EASYPOST_LABEL = "https://easypost-files.s3.us-west-2.amazonaws.com/files/postage_label/20300107/e8e1f2a9ba7b4d5b8b1c0a6f2f3d7c91.pdf"


class EasyPostApi:
    """EasyPost as the adapter meets it: ``by_reference`` answers the parcel's shipment asked by
    its reference, ``shipment`` the shipment asked by id, ``buy`` its purchase. Every request kept."""

    def __init__(self, *, by_reference: list[Answer], shipment: Answer, buy: Answer) -> None:
        self.by_reference, self.shipment, self.buy = by_reference, shipment, buy
        self.requests: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path
        answers: dict[tuple[str, str], Answer] = {
            ("POST", "/v2/shipments"): answer("easypost", "shipment_created", 201),
            ("POST", f"/v2/shipments/{EASYPOST_SHIPMENT}/buy"): self.buy,
            ("GET", f"/v2/shipments/{EASYPOST_SHIPMENT}"): self.shipment,
            ("GET", urlsplit(EASYPOST_LABEL).path): pdf_file(),
        }
        if (request.method, path) in answers:
            result = answers[(request.method, path)]
        elif request.method == "GET" and path.startswith("/v2/shipments/"):
            result = self.by_reference.pop(0) if len(self.by_reference) > 1 else self.by_reference[0]
        else:
            raise AssertionError(f"unexpected {request.method} {request.url}")
        if isinstance(result, Exception):
            raise result
        return result if isinstance(result, httpx.Response) else result(request)

    def calls(self) -> list[tuple[str, str]]:
        return [(request.method, request.url.path) for request in self.requests]


def _use_easypost(monkeypatch: pytest.MonkeyPatch, api: EasyPostApi) -> None:
    client = httpx.Client(transport=httpx.MockTransport(api.handle))
    monkeypatch.setitem(
        providers.FACTORIES,
        "easypost",
        lambda settings: EasyPostCarrier(settings.api_key, client=client, download_pause=0),
    )


def _approve(factory: sessionmaker[Session]) -> tuple[int, int]:
    merchant_id, return_id = _reviewed_return(factory, "prepaid_label")
    outbox_service.drain(factory)
    _use_carrier(factory, merchant_id)
    with unit_of_work(factory) as session:
        return_service.approve_return(session, merchant_id, return_id, actor=STAFF)
    return merchant_id, return_id


def _approval_message(factory: sessionmaker[Session]) -> OutboxMessage:
    with factory() as session:
        return session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "return.approved")).one()


def _due_now(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        session.execute(OutboxMessage.__table__.update().values(available_at=clock.now()))
        session.commit()


NOT_FOUND = answer("easypost", "error_404_not_found", 404)
# The parcel's shipment asked for by its reference: shop, RMA, parcel and the digest of its content.
REFERENCE_PATH = re.compile(r"/v2/shipments/retour:\d+:R-000001:1:[0-9a-f]{12}")


def test_a_purchase_without_an_answer_is_retried_by_finding_the_label_bought_never_buying_again(
    factory: sessionmaker[Session], storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The /buy answer is lost and EasyPost had not finished when asked at once; by the retry it has.
    api = EasyPostApi(
        by_reference=[NOT_FOUND, answer("easypost", "shipment_bought")],
        shipment=answer("easypost", "shipment_created"),
        buy=httpx.ReadTimeout("timed out"),
    )
    _use_easypost(monkeypatch, api)
    _, return_id = _approve(factory)
    outbox_service.drain(factory)
    message = _approval_message(factory)
    assert (message.status, message.attempts) == ("pending", 1)
    assert f"shipment {EASYPOST_SHIPMENT} is not bought" in (message.last_error or "")
    assert _shipments(factory, return_id) == []
    _due_now(factory)
    outbox_service.drain(factory)
    assert _approval_message(factory).status == "done"
    (shipment,) = _shipments(factory, return_id)
    assert (shipment.status, shipment.carrier, shipment.tracking_number, shipment.carrier_reference) == (
        "label_created",
        "easypost",
        "9400100105442285876350",
        EASYPOST_SHIPMENT,
    )
    calls = api.calls()
    assert [method for method, _ in calls] == ["GET", "POST", "POST", "GET", "GET", "GET"]
    assert REFERENCE_PATH.fullmatch(calls[0][1]) and calls[4][1] == calls[0][1]
    assert calls[1:4] == [
        ("POST", "/v2/shipments"),
        ("POST", f"/v2/shipments/{EASYPOST_SHIPMENT}/buy"),
        ("GET", f"/v2/shipments/{EASYPOST_SHIPMENT}"),
    ]
    assert calls[5] == ("GET", urlsplit(EASYPOST_LABEL).path)


def test_a_purchase_whose_outcome_stays_unknown_is_dead_lettered_with_what_to_check(
    factory: sessionmaker[Session], storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = EasyPostApi(by_reference=[NOT_FOUND], shipment=httpx.ReadTimeout("timed out"), buy=httpx.ReadTimeout("t"))
    _use_easypost(monkeypatch, api)
    _, return_id = _approve(factory)
    outbox_service.drain(factory)
    message = _approval_message(factory)
    assert (message.status, message.attempts) == ("dead", 1)
    assert f"check shipment {EASYPOST_SHIPMENT} in the EasyPost account before buying again" in (
        message.last_error or ""
    )
    assert _shipments(factory, return_id) == []
    assert [call for call in api.calls() if call[0] == "POST"] == [
        ("POST", "/v2/shipments"),
        ("POST", f"/v2/shipments/{EASYPOST_SHIPMENT}/buy"),
    ]


def test_a_portal_label_whose_purchase_stays_unknown_is_label_failed_with_the_reason(
    factory: sessionmaker[Session], storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = EasyPostApi(
        by_reference=[NOT_FOUND], shipment=httpx.Response(503, text=""), buy=httpx.RemoteProtocolError("closed")
    )
    _use_easypost(monkeypatch, api)
    merchant_id, return_id = _approve(factory)
    with unit_of_work(factory) as session:
        request = return_service.get_return(session, merchant_id, return_id)
        # The parcel the portal records, for the worker to buy (and no label after approval).
        session.execute(OutboxMessage.__table__.update().values(status="done"))
        shipment = shipment_service.create_shipment(
            session, merchant_id, request, method="prepaid_label", actor=STAFF, defer_carrier=True
        )
        shipment_id = shipment.id
    outbox_service.drain(factory)
    with factory() as session:
        failed = session.get(Shipment, shipment_id)
        assert failed is not None
        assert failed.status == "label_failed"
        assert failed.failure_reason is not None
        assert failed.failure_reason.startswith("the carrier refused the label: easypost: purchase outcome unknown")
        assert failed.failure_reason.endswith(
            f"check shipment {EASYPOST_SHIPMENT} in the EasyPost account before buying again"
        )
        assert (failed.tracking_number, failed.label_path) == (None, None)
    assert api.calls().count(("POST", f"/v2/shipments/{EASYPOST_SHIPMENT}/buy")) == 1


class ShippoApi:
    """Shippo as the adapter meets it. The purchase gets no answer and cannot be looked up by its
    rate (``GET /transactions/?rate=`` fails), while the account's latest labels list it."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.bought: dict[str, Any] | None = None

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = (request.method, request.url.path)
        if route == ("POST", "/shipments/"):
            return answer("shippo", "shipment_created", 201)
        if route == ("POST", "/transactions/"):
            # Shippo sold it, but the answer is lost on the way back.
            sent = json.loads(request.content)
            self.bought = {**recording("shippo", "transaction_success"), "metadata": sent["metadata"]}
            raise httpx.ReadTimeout("timed out")
        if route == ("GET", "/transactions/") and "rate" in request.url.params:
            return httpx.Response(503, text="")
        if route == ("GET", "/transactions/"):
            listed = [self.bought] if self.bought else []
            return httpx.Response(200, json={"next": None, "previous": None, "results": listed})
        if request.url.host == "shippo-delivery-east.s3.amazonaws.com":
            return pdf_file()
        raise AssertionError(f"unexpected {request.method} {request.url}")

    def calls(self) -> list[tuple[str, str]]:
        return [(request.method, request.url.path) for request in self.requests]


def test_a_shippo_purchase_left_unknown_is_parked_and_its_replay_finds_the_label_bought(
    factory: sessionmaker[Session], storage: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = ShippoApi()
    client = httpx.Client(transport=httpx.MockTransport(api.handle))
    monkeypatch.setitem(
        providers.FACTORIES, "shippo", lambda settings: ShippoCarrier(settings.api_key, client=client, download_pause=0)
    )
    merchant_id, return_id = _reviewed_return(factory, "prepaid_label")
    outbox_service.drain(factory)
    with unit_of_work(factory) as session:
        merchant = session.get(Merchant, merchant_id)
        assert merchant is not None
        merchant.settings = {"carrier": {"provider": "shippo", "api_key": "shippo_test_1", "webhook_secret": "s"}}
        return_service.approve_return(session, merchant_id, return_id, actor=STAFF)
    outbox_service.drain(factory)
    message = _approval_message(factory)
    assert (message.status, message.attempts) == ("dead", 1)
    assert "purchase outcome unknown" in (message.last_error or "")
    assert f"metadata 'retour:{merchant_id}:R-000001:1'" in (message.last_error or "")
    assert _shipments(factory, return_id) == []
    # A person replays it: the label bought the first time is found, not bought again.
    with unit_of_work(factory) as session:
        outbox_service.replay(session, merchant_id, message.id)
    outbox_service.drain(factory)
    (shipment,) = _shipments(factory, return_id)
    assert (shipment.status, shipment.carrier, shipment.tracking_number, shipment.carrier_reference) == (
        "label_created",
        "shippo",
        "6A12345678901",
        "915d94940ea54c3a80cbfa328722f5a1",
    )
    assert api.calls() == [
        ("GET", "/transactions/"),
        ("POST", "/shipments/"),
        ("POST", "/transactions/"),
        ("GET", "/transactions/"),
        ("GET", "/transactions/"),
        ("GET", "/transactions/"),
        ("GET", "/transactions/"),
        ("GET", "/70ae8117ee1749e393f249d5b77c45e0.pdf"),
    ]
    assert api.calls().count(("POST", "/transactions/")) == 1
