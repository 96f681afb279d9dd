from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests import factories


def create_order(client: TestClient, shop: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/orders", json=factories.order_payload(**overrides), headers=shop["headers"])
    assert response.status_code == 201, response.text
    return response.json()


def test_order_return_approve_and_timeline(client: TestClient, shop: dict[str, Any]) -> None:
    order = create_order(client, shop)
    ring = order["lines"][0]
    returnable = client.get(f"/api/v1/orders/{order['id']}/returnable", headers=shop["headers"]).json()
    assert [line["returnable_quantity"] for line in returnable["lines"]] == [2, 1]
    body = {
        "order_id": order["id"],
        "resolution": "refund",
        "method": "prepaid_label",
        "lines": [{"order_line_id": ring["id"], "quantity": 1, "reason_code": "too_small"}],
    }
    created = client.post("/api/v1/returns", json=body, headers=shop["headers"])
    assert created.status_code == 201, created.text
    result = created.json()
    assert result["number"] == "R-000001"
    assert result["status"] == "approved"
    assert result["quote"]["total_amount"] == 12900
    detail = client.get(f"/api/v1/returns/{result['id']}", headers=shop["headers"]).json()
    assert [event["action"] for event in detail["timeline"]] == ["return.requested", "return.approved"]
    after = client.get(f"/api/v1/orders/{order['id']}/returnable", headers=shop["headers"]).json()
    assert after["lines"][0]["returnable_quantity"] == 1
