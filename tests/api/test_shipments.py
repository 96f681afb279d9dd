"""Parcels through the API on both databases: a label asked for, scans sent by the shop, a pickup
moved, the carrier settings (secrets never shown back), and the carriers' webhook endpoint
(signed, stored once, 202 then 200 for a retried delivery, 401 / 404 storing nothing)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from retour.kit import clock
from retour.kit.db import make_session_factory
from retour.models import AuditEvent, InboundWebhook, Shipment, ShipmentEvent
from retour.shipment import providers
from tests.api.test_returns_flow import create_order
from tests.shipment.test_tracking import SECRET, FakeCarrier


def _approved_return(client: TestClient, shop: dict[str, Any], method: str = "prepaid_label") -> dict[str, Any]:
    order = create_order(client, shop)
    body = {
        "order_id": order["id"],
        "resolution": "refund",
        "method": method,
        "lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 1, "reason_code": "too_small"}],
    }
    created = client.post("/api/v1/returns", json=body, headers=shop["headers"])
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "approved"
    return dict(created.json())


def _count(engine: Engine, model: type) -> int:
    with make_session_factory(engine)() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_label_scans_and_the_parcel_as_the_api_shows_it(client: TestClient, shop: dict[str, Any]) -> None:
    request = _approved_return(client, shop)
    created = client.post(
        f"/api/v1/returns/{request['id']}/shipments", json={"method": "drop_off"}, headers=shop["headers"]
    )
    assert created.status_code == 201, created.text
    parcel = created.json()
    assert (parcel["status"], parcel["carrier"], parcel["method"], parcel["events"]) == (
        "label_created",
        "builtin",
        "drop_off",
        [],
    )
    scans = {
        "scans": [
            {
                "status": "in_transit",
                "at": "2030-01-08T10:00:00+01:00",
                "description": "Pris en charge",
                "external_id": "a",
            },
            {
                "status": "in_transit",
                "at": "2030-01-08T10:00:00+01:00",
                "description": "Pris en charge",
                "external_id": "a",
            },
            {"status": "delivered", "at": "2030-01-09T09:12:00+01:00", "location": "Lyon"},
        ]
    }
    answer = client.post(f"/api/v1/shipments/{parcel['id']}/scans", json=scans, headers=shop["headers"])
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "stored": 2,
        "duplicates": 1,
        "status_before": "label_created",
        "status_after": "delivered",
    }
    again = client.post(f"/api/v1/shipments/{parcel['id']}/scans", json=scans, headers=shop["headers"])
    assert again.json() == {"stored": 0, "duplicates": 3, "status_before": "delivered", "status_after": "delivered"}

    listed = client.get(f"/api/v1/returns/{request['id']}/shipments", headers=shop["headers"]).json()
    assert [(p["id"], p["status"]) for p in listed] == [(parcel["id"], "delivered")]
    assert [(e["status"], e["occurred_at"], e["location"]) for e in listed[0]["events"]] == [
        ("in_transit", "2030-01-08T09:00:00Z", None),
        ("delivered", "2030-01-09T08:12:00Z", "Lyon"),
    ]
    timeline = client.get(f"/api/v1/returns/{request['id']}", headers=shop["headers"]).json()["timeline"]
    assert [event["action"] for event in timeline][-3:] == [
        "shipment.label_created",
        "shipment.in_transit",
        "shipment.delivered",
    ]


def test_scans_without_an_offset_or_with_an_unknown_status_are_refused(
    client: TestClient, shop: dict[str, Any], engine: Engine
) -> None:
    request = _approved_return(client, shop)
    parcel = client.post(
        f"/api/v1/returns/{request['id']}/shipments", json={"method": "prepaid_label"}, headers=shop["headers"]
    ).json()
    for scan, field in (
        ({"status": "in_transit", "at": "2030-01-08T10:00:00"}, "at"),
        ({"status": "lost_in_space", "at": "2030-01-08T10:00:00Z"}, "status"),
    ):
        refused = client.post(
            f"/api/v1/shipments/{parcel['id']}/scans", json={"scans": [scan]}, headers=shop["headers"]
        )
        assert refused.status_code == 422
        assert refused.headers["content-type"] == "application/problem+json"
        assert field in json.dumps(refused.json()["errors"])
    assert _count(engine, ShipmentEvent) == 0


def test_a_pickup_is_moved_through_the_api(client: TestClient, shop: dict[str, Any], engine: Engine) -> None:
    request = _approved_return(client, shop)
    with clock.frozen(clock.as_utc(clock.now().replace(year=2030, month=1, day=7, hour=9))):  # a Monday
        parcel = client.post(
            f"/api/v1/returns/{request['id']}/shipments",
            json={"method": "home_pickup", "pickup_date": "2030-01-08", "pickup_slot": "09-12"},
            headers=shop["headers"],
        )
        assert parcel.status_code == 201, parcel.text
        url = f"/api/v1/shipments/{parcel.json()['id']}/pickup"
        moved = client.post(url, json={"pickup_date": "2030-01-10", "pickup_slot": "13-17"}, headers=shop["headers"])
        assert moved.status_code == 200, moved.text
        assert (moved.json()["pickup_date"], moved.json()["pickup_slot"]) == ("2030-01-10", "13-17")
        sunday = client.post(url, json={"pickup_date": "2030-01-13", "pickup_slot": "09-12"}, headers=shop["headers"])
        assert sunday.status_code == 422
        assert (sunday.json()["code"], sunday.json()["field"]) == ("pickup_date_sunday", "pickup_date")
    with make_session_factory(engine)() as session:
        shipment = session.get(Shipment, parcel.json()["id"])
        assert shipment is not None and str(shipment.pickup_date) == "2030-01-10"


def test_another_shops_parcel_is_not_found(client: TestClient, shop: dict[str, Any], engine: Engine) -> None:
    request = _approved_return(client, shop)
    parcel = client.post(
        f"/api/v1/returns/{request['id']}/shipments", json={"method": "prepaid_label"}, headers=shop["headers"]
    ).json()
    from retour.kit.db import unit_of_work
    from tests import factories

    with unit_of_work(make_session_factory(engine)) as session:
        other = factories.merchant(session)
        other_key = factories.api_key(session, other.id)
    headers = {"Authorization": f"Bearer {other_key}"}
    scan = {"scans": [{"status": "in_transit", "at": "2030-01-08T10:00:00Z"}]}
    assert client.get(f"/api/v1/shipments/{parcel['id']}", headers=headers).status_code == 404
    assert client.post(f"/api/v1/shipments/{parcel['id']}/scans", json=scan, headers=headers).status_code == 404
    assert client.get(f"/api/v1/returns/{request['id']}/shipments", headers=headers).status_code == 404
    assert _count(engine, ShipmentEvent) == 0


def test_carrier_settings_never_show_secrets(client: TestClient, shop: dict[str, Any], engine: Engine) -> None:
    assert client.get("/api/v1/settings/carrier", headers=shop["headers"]).json()["provider"] == "builtin"
    missing = client.put("/api/v1/settings/carrier", json={"provider": "easypost"}, headers=shop["headers"])
    assert missing.status_code == 422 and missing.json()["field"] == "api_key"
    saved = client.put(
        "/api/v1/settings/carrier",
        json={"provider": "easypost", "api_key": "EZ_live_secret_9876", "webhook_secret": "whs_abcd"},
        headers=shop["headers"],
    )
    assert saved.status_code == 200, saved.text
    assert saved.json() == {
        "provider": "easypost",
        "api_key": "…9876",
        "webhook_secret": "…abcd",
        "preferred_service": "",
        "tracking_carrier": "",
        "webhook_url_path": f"/webhooks/carriers/easypost/{shop['slug']}",
    }
    with make_session_factory(engine)() as session:
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "merchant.carrier_changed")).all()
        assert len(audit) == 1 and "EZ_live_secret_9876" not in json.dumps(audit[0].after)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeCarrier:
    carrier = FakeCarrier()
    monkeypatch.setitem(providers.FACTORIES, "easypost", lambda settings: carrier)
    return carrier


def test_the_webhook_endpoint_stores_once_and_refuses_bad_signatures(
    client: TestClient, shop: dict[str, Any], engine: Engine, fake: FakeCarrier
) -> None:
    client.put(
        "/api/v1/settings/carrier",
        json={"provider": "easypost", "api_key": "EZ_test", "webhook_secret": SECRET},
        headers=shop["headers"],
    )
    body = json.dumps({"id": "evt_9", "tracking_code": "NOPE", "scans": []}).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    url = f"/webhooks/carriers/easypost/{shop['slug']}"
    first = client.post(url, content=body, headers={"X-Fake-Signature": signature})
    assert (first.status_code, first.json()["duplicate"]) == (202, False)
    second = client.post(url, content=body, headers={"X-Fake-Signature": signature})
    assert (second.status_code, second.json()) == (200, {"id": first.json()["id"], "duplicate": True})
    bad = client.post(url, content=body.replace(b"evt_9", b"evt_8"), headers={"X-Fake-Signature": signature})
    assert (bad.status_code, bad.headers["content-type"], bad.json()["code"]) == (
        401,
        "application/problem+json",
        "webhook_signature_invalid",
    )
    assert client.post(f"/webhooks/carriers/shippo/{shop['slug']}", content=body).status_code == 404
    assert client.post("/webhooks/carriers/easypost/nobody", content=body).status_code == 404
    assert _count(engine, InboundWebhook) == 1


def _session(engine: Engine) -> Session:
    return make_session_factory(engine)()


def test_a_refused_label_is_bought_again_through_the_api(
    client: TestClient, shop: dict[str, Any], engine: Engine, fake: FakeCarrier
) -> None:
    from retour.kit.db import unit_of_work
    from retour.outbox import service as outbox_service
    from retour.return_request import service as return_service
    from retour.shipment import service as shipment_service
    from tests.warehouse.builders import AGENT

    client.put("/api/v1/settings/carrier", json={"provider": "easypost", "api_key": "EZ_test"}, headers=shop["headers"])
    request = _approved_return(client, shop)
    factory = make_session_factory(engine)
    with unit_of_work(factory) as session:
        shipment = shipment_service.create_shipment(
            session,
            shop["id"],
            return_service.get_return(session, shop["id"], request["id"]),
            method="prepaid_label",
            actor=AGENT,
            defer_carrier=True,
        )
        shipment_id = shipment.id
    from retour.shipment.carriers import CarrierFinalError

    fake.fail_with = CarrierFinalError("to_address.street1: required")
    outbox_service.drain(factory)
    failed = client.get(f"/api/v1/shipments/{shipment_id}", headers=shop["headers"]).json()
    assert (failed["status"], failed["failure_reason"]) == (
        "label_failed",
        "the carrier refused the label: to_address.street1: required",
    )
    fake.fail_with = None
    bought = client.post(f"/api/v1/shipments/{shipment_id}/label", headers=shop["headers"])
    assert bought.status_code == 200, bought.text
    assert (bought.json()["status"], bought.json()["failure_reason"]) == ("label_created", None)
    assert bought.json()["tracking_number"].startswith("FK")
    again = client.post(f"/api/v1/shipments/{shipment_id}/label", headers=shop["headers"])
    assert again.json() == bought.json()
    assert fake.labels == 1


def test_an_oversized_webhook_is_refused_unread_and_unstored(
    client: TestClient, shop: dict[str, Any], engine: Engine, fake: FakeCarrier
) -> None:
    client.put(
        "/api/v1/settings/carrier",
        json={"provider": "easypost", "api_key": "EZ_test", "webhook_secret": SECRET},
        headers=shop["headers"],
    )
    body = b'{"id": "evt_big", "pad": "' + b"x" * (300 * 1024) + b'"}'
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    refused = client.post(
        f"/webhooks/carriers/easypost/{shop['slug']}", content=body, headers={"X-Fake-Signature": signature}
    )
    assert (refused.status_code, refused.json()["code"]) == (413, "payload_too_large")
    assert _count(engine, InboundWebhook) == 0


def test_a_webhook_token_in_the_url_is_checked_never_kept(
    client: TestClient, shop: dict[str, Any], engine: Engine, fake: FakeCarrier
) -> None:
    client.put(
        "/api/v1/settings/carrier",
        json={"provider": "easypost", "api_key": "EZ_test", "webhook_secret": SECRET},
        headers=shop["headers"],
    )
    body = json.dumps({"id": "evt_tok", "tracking_code": "X", "scans": []}).encode()
    signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    stored = client.post(
        f"/webhooks/carriers/easypost/{shop['slug']}?token={SECRET}",
        content=body,
        headers={"X-Fake-Signature": signature},
    )
    assert stored.status_code == 202
    with make_session_factory(engine)() as session:
        row = session.scalars(select(InboundWebhook)).one()
        assert SECRET not in json.dumps(row.headers)
        assert set(row.headers) <= {"content-type", "user-agent", "x-hmac-signature", "shippo-auth-signature"}


def test_track_now_tells_a_refusal_from_an_outage(client: TestClient, shop: dict[str, Any], fake: FakeCarrier) -> None:
    from retour.shipment.carriers import CarrierFinalError, CarrierRetryableError

    client.put("/api/v1/settings/carrier", json={"provider": "easypost", "api_key": "EZ_test"}, headers=shop["headers"])
    request = _approved_return(client, shop)
    parcel = client.post(
        f"/api/v1/returns/{request['id']}/shipments", json={"method": "prepaid_label"}, headers=shop["headers"]
    ).json()
    url = f"/api/v1/shipments/{parcel['id']}/track"
    fake.fail_with = CarrierFinalError("HTTP 401: invalid API key")
    refused = client.post(url, headers=shop["headers"])
    fake.fail_with = CarrierRetryableError("HTTP 503")
    down = client.post(url, headers=shop["headers"])
    assert (refused.status_code, refused.json()["code"]) == (422, "carrier_refused")
    assert (down.status_code, down.json()["code"]) == (503, "carrier_unavailable")


def test_ids_too_large_for_a_row_are_refused_not_crashed(client: TestClient, shop: dict[str, Any]) -> None:
    huge = 2**64
    assert client.get(f"/api/v1/shipments/{huge}", headers=shop["headers"]).status_code == 422
    page = client.post(f"/s/{shop['slug']}/r/not-a-token/shipments/{huge}/pickup", data={})
    assert page.status_code == 422
