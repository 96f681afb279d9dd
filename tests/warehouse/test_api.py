"""The warehouse through the HTTP API, on SQLite and PostgreSQL: scan → receive → inspect → dispose
→ stock and resale listings, the queues, the feed, and the problems (409, 404, 403, 422) with
nothing changed behind them."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.db import unit_of_work
from tests import factories
from tests.warehouse.builders import counts

PROBLEM = "application/problem+json"
Shop = dict[str, Any]
JEWELRY_OK = {"authenticity": True, "stone_setting": True, "clasp": True, "metal": True}


def ok(response: Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def problem(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (status, code)
    return body


def state(factory: sessionmaker[Session]) -> dict[str, Any]:
    with factory() as session:
        return counts(session)


def setup_return(client: TestClient, shop: Shop, quantity: int = 2, reason: str = "too_small") -> dict[str, Any]:
    """Catalogue (a 3 g ring at €129), two locations, a delivered order and an approved return."""
    headers = shop["headers"]
    product = {
        "external_id": "ring-lune",
        "title": "Bague Lune or",
        "category": "rings",
        "variants": [{"sku": "RING-GOLD-52", "price_amount": 12900, "weight_grams": 3}],
    }
    assert client.post("/api/v1/products", json=product, headers=headers).status_code in (200, 201)
    for code, countries in (("PARIS", ["FR"]), ("LYON", ["BE"])):
        body = {"code": code, "name": code.title(), "countries_served": countries}
        ok(client.post("/api/v1/locations", json=body, headers=headers), 201)
    order = ok(client.post("/api/v1/orders", json=factories.order_payload(), headers=headers), 201)
    ring = order["lines"][0]
    body = {
        "order_id": order["id"],
        "resolution": "refund",
        "method": "prepaid_label",
        "lines": [{"order_line_id": ring["id"], "quantity": quantity, "reason_code": reason}],
    }
    created = ok(client.post("/api/v1/returns", json=body, headers=headers), 201)
    assert created["status"] == "approved"
    return created


def test_scan_receive_inspect_restock_and_resell(client: TestClient, shop: Shop) -> None:
    headers = shop["headers"]
    created = setup_return(client, shop)
    line_id = created["lines"][0]["id"]
    scanned = ok(client.get(f"/api/v1/warehouse/scan/{created['number'].replace('-', '')}", headers=headers))
    assert (scanned["return_id"], scanned["matched_by"], scanned["expected_weight_grams"]) == (
        created["id"],
        "rma_number",
        6,
    )
    assert [(line["return_line_id"], line["remaining_quantity"]) for line in scanned["lines"]] == [(line_id, 2)]

    receipt = ok(
        client.post(
            f"/api/v1/returns/{created['id']}/receipts",
            json={"lines": [{"return_line_id": line_id, "quantity": 2}], "weight_grams": 95},
            headers=headers,
        ),
        201,
    )
    assert (receipt["outcome"], receipt["return_status"], receipt["weight_grams"]) == ("as_expected", "in_progress", 95)
    assert receipt["received_by"].startswith("API key #")
    first, second = (unit["id"] for unit in receipt["units"])
    assert receipt["units"][0]["checklist"]["name"] == "jewelry"
    assert ok(client.get("/api/v1/warehouse/queues", headers=headers)) == {
        "awaiting_parcel": 0,
        "to_inspect": 2,
        "to_dispose": 0,
        "in_repair": 0,
        "in_refurbishment": 0,
        "active_listings": 0,
    }

    inspected = ok(
        client.post(
            f"/api/v1/inspection-units/{first}/inspection",
            json={"grade": "new", "answers": JEWELRY_OK, "measured_weight_grams": "3.02", "notes": "parfait"},
            headers=headers,
        )
    )
    assert (inspected["accepted"], inspected["disposition"], inspected["measured_weight_grams"]) == (
        True,
        "restock",
        "3.02",
    )
    damaged = ok(
        client.post(
            f"/api/v1/inspection-units/{second}/inspection",
            json={
                "grade": "lightly_damaged",
                "answers": {**JEWELRY_OK, "metal": False},
                "measured_weight_grams": 2.97,
                "notes": "Rayure sur l'anneau",
                "photos": ["photos/ring-scratch.jpg"],
            },
            headers=headers,
        )
    )
    assert (damaged["accepted"], damaged["disposition"], [f["rule_id"] for f in damaged["findings"]]) == (
        True,
        "resell_second_hand",
        ["metal"],
    )

    restocked = ok(client.post(f"/api/v1/inspection-units/{first}/disposition", json={}, headers=headers))
    assert (restocked["status"], restocked["final_disposition"], restocked["stock_location_code"]) == (
        "done",
        "restock",
        "PARIS",
    )
    listed = ok(client.post(f"/api/v1/inspection-units/{second}/disposition", json={}, headers=headers))
    assert listed["final_disposition"] == "resell_second_hand" and listed["listing_id"] is not None

    assert ok(client.get("/api/v1/inventory", params={"sku": "RING-GOLD-52"}, headers=headers)) == {
        "sku": "RING-GOLD-52",
        "on_hand": 1,
        "locations": [
            {"location_code": "PARIS", "location_name": "Paris", "on_hand": 1},
            {"location_code": "LYON", "location_name": "Lyon", "on_hand": 0},
        ],
    }
    listings = ok(client.get("/api/v1/resale/listings", headers=headers))["items"]
    assert [(item["id"], item["price_amount"], item["photos"]) for item in listings] == [
        (listed["listing_id"], 7095, ["photos/ring-scratch.jpg"])
    ]
    feed = client.get("/api/v1/resale/listings", params={"format": "csv"}, headers=headers)
    assert feed.status_code == 200 and feed.headers["content-type"] == "text/csv; charset=utf-8"
    assert feed.text.splitlines()[1].startswith(
        f"{listed['listing_id']},RING-GOLD-52,Bague Lune or 52,lightly_damaged,70.95,129.00,EUR,45,"
    )
    assert (
        ok(client.get("/api/v1/resale/feed", params={"format": "json"}, headers=headers))["listings"][0]["price"]
        == "70.95"
    )
    sold = ok(client.post(f"/api/v1/resale/listings/{listed['listing_id']}/sold", headers=headers))
    assert sold["status"] == "sold"
    problem(
        client.post(f"/api/v1/resale/listings/{listed['listing_id']}/sold", headers=headers), 409, "listing_not_active"
    )

    detail = ok(client.get(f"/api/v1/returns/{created['id']}", headers=headers))
    assert detail["status"] == "completed"
    assert [line["restocked_quantity"] for line in detail["lines"]] == [1]
    assert [event["action"] for event in detail["timeline"]][2:] == [
        "return.received",
        "return.in_progress",
        "return.inspected",
        "return.inspected",
        "return.disposed",
        "return.disposed",
        "return.completed",
    ]
    movements = ok(client.get("/api/v1/inventory/movements", params={"sku": "RING-GOLD-52"}, headers=headers))
    assert [(m["kind"], m["quantity"], m["return_line_id"], m["inspection_unit_id"]) for m in movements] == [
        ("restock", 1, line_id, first)
    ]


def test_refusals_are_problems_and_change_nothing(
    client: TestClient, shop: Shop, factory: sessionmaker[Session]
) -> None:
    headers = shop["headers"]
    created = setup_return(client, shop)
    line_id = created["lines"][0]["id"]
    with unit_of_work(factory) as session:
        other = factories.merchant(session)
        other_headers = {"Authorization": f"Bearer {factories.api_key(session, other.id)}"}
        reader = {"Authorization": f"Bearer {factories.api_key(session, shop['id'], ['read'])}"}
    before = state(factory)
    too_many = problem(
        client.post(
            f"/api/v1/returns/{created['id']}/receipts",
            json={"lines": [{"return_line_id": line_id, "quantity": 3}]},
            headers=headers,
        ),
        409,
        "quantity_exceeds_expected",
    )
    assert (too_many["field"], too_many["expected_quantity"]) == ("lines.0.quantity", 2)
    problem(client.get("/api/v1/warehouse/scan/R-999999", headers=headers), 404, "scan_not_found")
    problem(
        client.post(
            "/api/v1/inventory/movements",
            json={"sku": "RING-GOLD-52", "location_code": "PARIS", "kind": "sale", "quantity": 1},
            headers=headers,
        ),
        409,
        "insufficient_stock",
    )
    problem(
        client.post("/api/v1/locations", json={"code": "paris", "name": "Bis"}, headers=headers), 409, "location_exists"
    )
    problem(
        client.post("/api/v1/inspection-units/1/inspection", json={"grade": "shiny"}, headers=headers),
        422,
        "validation_error",
    )
    problem(client.get("/api/v1/inspection-units/999999", headers=headers), 404, "not_found")
    assert state(factory) == before

    receipt_body = {"lines": [{"return_line_id": line_id, "quantity": 1}]}
    problem(
        client.post(f"/api/v1/returns/{created['id']}/receipts", json=receipt_body, headers=other_headers),
        404,
        "not_found",
    )
    problem(client.get(f"/api/v1/warehouse/scan/{created['number']}", headers=other_headers), 404, "scan_not_found")
    problem(
        client.post(f"/api/v1/returns/{created['id']}/receipts", json=receipt_body, headers=reader),
        403,
        "insufficient_scope",
    )
    assert ok(client.get("/api/v1/locations", headers=other_headers)) == []
    assert state(factory) == before


def test_override_needs_a_reason_and_checklists_can_be_replaced(client: TestClient, shop: Shop) -> None:
    headers = shop["headers"]
    created = setup_return(client, shop, quantity=1)
    line_id = created["lines"][0]["id"]
    custom = {
        "items": [
            {"code": "box", "en": "Box present", "fr": "Écrin présent"},
            {"code": "weight", "en": "Weight", "fr": "Poids", "kind": "weight", "failure": "reject"},
        ]
    }
    replaced = ok(client.put("/api/v1/inspection-checklists/rings", json=custom, headers=headers))
    assert (replaced["name"], replaced["is_shop_override"], [i["code"] for i in replaced["items"]]) == (
        "rings",
        True,
        ["box", "weight"],
    )
    receipt = ok(
        client.post(
            f"/api/v1/returns/{created['id']}/receipts",
            json={"lines": [{"return_line_id": line_id, "quantity": 1}]},
            headers=headers,
        ),
        201,
    )
    unit_id = receipt["units"][0]["id"]
    assert [
        item["code"]
        for item in ok(client.get(f"/api/v1/inspection-units/{unit_id}", headers=headers))["checklist"]["items"]
    ] == ["box", "weight"]
    missing = problem(
        client.post(
            f"/api/v1/inspection-units/{unit_id}/inspection",
            json={"grade": "new", "answers": JEWELRY_OK},
            headers=headers,
        ),
        422,
        "unknown_checklist_item",
    )
    assert missing["field"] == "answers.authenticity"
    ok(
        client.post(
            f"/api/v1/inspection-units/{unit_id}/inspection",
            json={"grade": "new", "answers": {"box": True}, "measured_weight_grams": 3},
            headers=headers,
        )
    )
    problem(
        client.post(f"/api/v1/inspection-units/{unit_id}/disposition", json={"disposition": "donate"}, headers=headers),
        422,
        "reason_required",
    )
    donated = ok(
        client.post(
            f"/api/v1/inspection-units/{unit_id}/disposition",
            json={"disposition": "donate", "reason": "Association partenaire"},
            headers=headers,
        )
    )
    assert (donated["final_disposition"], donated["disposition_overridden"], donated["disposition_reason"]["en"]) == (
        "donate",
        True,
        "Association partenaire",
    )
    assert (
        ok(client.get("/api/v1/inspection-units", params={"queue": "done"}, headers=headers))["items"][0]["id"]
        == unit_id
    )
    reset = ok(client.delete("/api/v1/inspection-checklists/rings", headers=headers))
    assert (reset["name"], reset["is_shop_override"]) == ("jewelry", False)
