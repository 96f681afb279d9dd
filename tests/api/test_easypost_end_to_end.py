"""A shop on EasyPost, end to end on both databases, with EasyPost's recorded answers under the
real adapter: the API buys the label, EasyPost's signed webhook is stored and answered, the
worker applies its scans, and polling asks EasyPost for the same parcel without storing a scan
twice."""

from __future__ import annotations

import hashlib
import hmac
import unicodedata
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from retour import tasks  # noqa: F401  (registers the outbox handlers)
from retour.integrations.easypost import EasyPostCarrier
from retour.kit.db import make_session_factory
from retour.outbox import service as outbox_service
from retour.shipment import providers, tracking
from tests.api.test_shipments import _approved_return
from tests.integrations.recorded import PDF, FakeApi, answer, recorded_bytes, recording
from tests.integrations.test_easypost import BUY, LABEL, SHIPMENTS, TRACKERS

KEY = "EZTK-shop-key-0001"
SECRET = "whsec-shop-0001"
TRACKING = "9400100105442285876350"


@pytest.fixture
def easypost_api(monkeypatch: pytest.MonkeyPatch) -> FakeApi:
    api = FakeApi(
        {
            ("POST", SHIPMENTS): answer("easypost", "shipment_created", 201),
            ("POST", BUY): answer("easypost", "shipment_bought"),
            ("GET", LABEL): httpx.Response(200, content=PDF, headers={"content-type": "application/pdf"}),
            # Polled, EasyPost answers the parcel's tracker: the one its webhook carried.
            ("POST", TRACKERS): httpx.Response(200, json=recording("easypost", "webhook_tracker_updated")["result"]),
        }
    )

    def build(settings: providers.CarrierSettings) -> EasyPostCarrier:
        assert settings.api_key == KEY  # the shop's own credentials reach the adapter
        return EasyPostCarrier(settings.api_key, client=api.client)

    monkeypatch.setitem(providers.FACTORIES, "easypost", build)
    return api


def test_label_webhook_worker_and_polling(
    client: TestClient, shop: dict[str, Any], engine: Engine, easypost_api: FakeApi
) -> None:
    configured = client.put(
        "/api/v1/settings/carrier",
        json={"provider": "easypost", "api_key": KEY, "webhook_secret": SECRET},
        headers=shop["headers"],
    )
    assert configured.status_code == 200, configured.text
    request = _approved_return(client, shop)
    created = client.post(
        f"/api/v1/returns/{request['id']}/shipments", json={"method": "prepaid_label"}, headers=shop["headers"]
    )
    assert created.status_code == 201, created.text
    parcel = created.json()
    assert (parcel["carrier"], parcel["tracking_number"], parcel["status"]) == ("easypost", TRACKING, "label_created")
    # The parcel's shipment is asked for by its reference first (none yet), then made and bought.
    looked_up, *bought = easypost_api.calls()
    assert looked_up[0] == "GET" and looked_up[1].startswith(f"{SHIPMENTS}/retour%3A")
    assert bought == [("POST", SHIPMENTS), ("POST", BUY), ("GET", LABEL)]
    sent = easypost_api.sent("POST", SHIPMENTS)["shipment"]
    assert sent["is_return"] is True
    label = client.get(f"/api/v1/returns/{request['id']}/shipments", headers=shop["headers"]).json()
    assert label[0]["id"] == parcel["id"]

    body = recorded_bytes("easypost", "webhook_tracker_updated")
    key = unicodedata.normalize("NFKD", SECRET).encode()
    signature = "hmac-sha256-hex=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    url = f"/webhooks/carriers/easypost/{shop['slug']}"
    stored = client.post(url, content=body, headers={"X-Hmac-Signature": signature})
    assert stored.status_code == 202, stored.text
    assert client.post(url, content=body, headers={"X-Hmac-Signature": signature}).status_code == 200
    assert client.post(url, content=body, headers={"X-Hmac-Signature": "hmac-sha256-hex=00"}).status_code == 401

    factory = make_session_factory(engine)
    outbox_service.drain(factory)
    moved = client.get(f"/api/v1/shipments/{parcel['id']}", headers=shop["headers"]).json()
    assert moved["status"] == "in_transit"  # the return_to_sender scan is an exception: told, not a move
    assert [event["status"] for event in moved["events"]] == ["pre_transit", "in_transit", "exception"]
    timeline = client.get(f"/api/v1/returns/{request['id']}", headers=shop["headers"]).json()["timeline"]
    assert [event["action"] for event in timeline if event["action"].startswith("shipment.")] == [
        "shipment.label_created",
        "shipment.in_transit",
        "shipment.exception",
    ]

    # Polling the same parcel: EasyPost answers the tracker; nothing already known is stored again.
    with factory() as session:
        outcome = tracking.poll_parcel(session, shop["id"], parcel["id"])
        session.commit()
    assert outcome == tracking.ScanOutcome(
        stored=0, duplicates=3, status_before="in_transit", status_after="in_transit"
    )
    assert easypost_api.sent("POST", TRACKERS) == {"tracker": {"tracking_code": TRACKING}}
    again = client.get(f"/api/v1/shipments/{parcel['id']}", headers=shop["headers"]).json()
    assert again["events"] == moved["events"]
