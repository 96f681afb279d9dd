"""A shop on a real carrier: the portal records the parcel at once and the worker buys the label,
so the customer never waits for (nor is refused by) the carrier's API; the status page says the
label is being prepared, then shows it, or says plainly that the carrier refused it."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retour import tasks  # noqa: F401  (registers the outbox handlers)
from retour.kit.db import unit_of_work
from retour.models import Merchant, Shipment
from retour.outbox import service as outbox_service
from retour.portal import status
from retour.return_request import service as return_service
from retour.return_request.schemas import ReturnIn
from retour.shipment import providers
from retour.shipment.carriers import CarrierFinalError
from retour.shipment.service import create_shipment
from tests.shipment.test_tracking import FakeCarrier
from tests.warehouse.builders import AGENT

SECRET = "test-secret-key-that-is-long-enough-0123456789"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeCarrier:
    carrier = FakeCarrier()
    monkeypatch.setitem(providers.FACTORIES, "easypost", lambda settings: carrier)
    return carrier


def _portal_return(factory: sessionmaker[Session], shop: dict[str, Any], settings_dir: Any) -> tuple[int, str]:
    with unit_of_work(factory) as session:
        merchant = session.get(Merchant, shop["id"])
        assert merchant is not None
        merchant.settings = {**(merchant.settings or {}), "carrier": {"provider": "easypost", "api_key": "EZ_test"}}
        request = return_service.request_return(
            session,
            shop["id"],
            ReturnIn.model_validate(
                {
                    "order_id": shop["order_id"],
                    "resolution": "refund",
                    "method": "prepaid_label",
                    "lines": [{"order_line_id": shop["lines"][1], "quantity": 1, "reason_code": "changed_mind"}],
                }
            ),
            actor=AGENT,
        )
        create_shipment(
            session,
            shop["id"],
            request,
            method="prepaid_label",
            actor=AGENT,
            storage_dir=settings_dir,
            defer_carrier=True,
        )
        return request.id, f"/s/{shop['slug']}/r/{status.status_token(SECRET, shop['id'], request.id)}"


def test_the_label_is_prepared_then_shown(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session], fake: FakeCarrier, settings: Any
) -> None:
    return_id, link = _portal_return(factory, portal_shop, settings.storage_dir)
    page = client.get(f"{link}?lang=en")
    assert "Your label is being prepared" in page.text
    assert "/label.pdf" not in page.text
    assert client.get(f"{link}/label.pdf").status_code == 404
    assert fake.labels == 0

    outbox_service.drain(factory)
    ready = client.get(f"{link}?lang=fr")
    assert "Votre étiquette est en préparation" not in ready.text
    assert "/label.pdf" in ready.text
    with unit_of_work(factory, write=False) as session:
        shipment = session.scalars(select(Shipment).where(Shipment.return_request_id == return_id)).one()
        assert shipment.status == "label_created"


def test_a_refused_label_is_said_plainly(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session], fake: FakeCarrier, settings: Any
) -> None:
    _, link = _portal_return(factory, portal_shop, settings.storage_dir)
    fake.fail_with = CarrierFinalError("to_address.street1: required")
    outbox_service.drain(factory)
    page = client.get(f"{link}?lang=fr")
    assert "Nous n'avons pas encore pu créer votre étiquette" in page.text.replace("&#39;", "'")
    assert "street1" not in page.text  # the carrier's words are for the shop, not the customer
    assert "/label.pdf" not in page.text
