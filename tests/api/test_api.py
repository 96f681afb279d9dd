"""The JSON API through the HTTP client, on SQLite and PostgreSQL: authentication and scopes, shop
isolation, orders, validation problems, idempotency, listing and pagination, transitions, the
policy and its dry run, reasons, health and the OpenAPI description."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from retour.kit import clock
from retour.kit.actor import Actor
from retour.kit.db import unit_of_work
from retour.merchant import service as merchant_service
from retour.models import OrderLine, ReturnRequest
from retour.policy.defaults import DEFAULT_POLICY
from tests import factories
from tests.services.state import snapshot

PROBLEM = "application/problem+json"
Shop = dict[str, Any]


def problem(response: Response, status: int, code: str, **expected: Any) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"], body["type"]) == (status, code, f"https://retour.dev/problems/{code}")
    for name, value in expected.items():
        assert body[name] == value, (name, body)
    return body


def create_order(client: TestClient, shop: Shop, **overrides: Any) -> dict[str, Any]:
    response = client.post("/api/v1/orders", json=factories.order_payload(**overrides), headers=shop["headers"])
    assert response.status_code == 201, response.text
    return response.json()


def return_body(order: dict[str, Any], line: int = 0, quantity: int = 1, **overrides: Any) -> dict[str, Any]:
    body = {
        "order_id": order["id"],
        "resolution": "refund",
        "method": "prepaid_label",
        "lines": [{"order_line_id": order["lines"][line]["id"], "quantity": quantity, "reason_code": "too_small"}],
    }
    body.update(overrides)
    return body


def create_return(client: TestClient, shop: Shop, order: dict[str, Any], **kw: Any) -> dict[str, Any]:
    response = client.post("/api/v1/returns", json=return_body(order, **kw), headers=shop["headers"])
    assert response.status_code == 201, response.text
    return response.json()


def new_shop(factory: sessionmaker[Session], scopes: list[str] | None = None) -> Shop:
    with unit_of_work(factory) as session:
        merchant = factories.merchant(session)
        key = factories.api_key(session, merchant.id, scopes)
    return {"id": merchant.id, "key": key, "headers": {"Authorization": f"Bearer {key}"}}


def key_for(factory: sessionmaker[Session], shop: Shop, scopes: list[str]) -> dict[str, str]:
    with unit_of_work(factory) as session:
        return {"Authorization": f"Bearer {factories.api_key(session, shop['id'], scopes)}"}


def state(factory: sessionmaker[Session]) -> Any:
    with factory() as session:
        return snapshot(session)


def return_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(ReturnRequest)) or 0


# ---- authentication and scopes -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "code", "detail"),
    [
        (None, "missing_api_key", "send 'Authorization: Bearer <api key>'"),
        ("Basic dXNlcjpwYXNz", "missing_api_key", "send 'Authorization: Bearer <api key>'"),
        ("Bearer", "missing_api_key", "send 'Authorization: Bearer <api key>'"),
        ("Bearer not-a-key", "invalid_api_key", "malformed API key"),
        ("Bearer rtr_nosuchprefix_secret", "invalid_api_key", "unknown API key"),
    ],
)
def test_requests_without_a_valid_key_are_401(
    client: TestClient, shop: Shop, authorization: str | None, code: str, detail: str
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, url in (("GET", "/api/v1/returns"), ("POST", "/api/v1/orders"), ("GET", "/api/v1/policy")):
        response = client.request(method, url, headers=headers, json={} if method == "POST" else None)
        problem(response, 401, code, detail=detail, title="Unauthorized")
        assert response.headers["www-authenticate"] == "Bearer"


def test_right_prefix_with_a_wrong_secret_is_401(client: TestClient, shop: Shop) -> None:
    prefix = shop["key"].split("_")[1]
    response = client.get("/api/v1/returns", headers={"Authorization": f"Bearer rtr_{prefix}_wrong-secret"})
    problem(response, 401, "invalid_api_key", detail="unknown API key")


def test_revoked_key_is_401(client: TestClient, shop: Shop, factory: sessionmaker[Session]) -> None:
    assert client.get("/api/v1/reasons", headers=shop["headers"]).status_code == 200
    with unit_of_work(factory) as session:
        key = merchant_service.list_api_keys(session, shop["id"])[0]
        merchant_service.revoke_api_key(session, merchant_id=shop["id"], key_id=key.id, actor=Actor.system())
    problem(
        client.get("/api/v1/reasons", headers=shop["headers"]),
        401,
        "revoked_api_key",
        detail="this API key was revoked",
    )


def test_missing_scope_is_403(client: TestClient, shop: Shop, factory: sessionmaker[Session]) -> None:
    order = create_order(client, shop)
    reader = key_for(factory, shop, ["read"])
    writer = key_for(factory, shop, ["write"])
    before = state(factory)
    for method, url, body in (
        ("POST", "/api/v1/orders", factories.order_payload()),
        ("POST", "/api/v1/returns", return_body(order)),
        ("PUT", "/api/v1/policy", DEFAULT_POLICY),
    ):
        problem(
            client.request(method, url, json=body, headers=reader),
            403,
            "insufficient_scope",
            detail="this API key lacks the 'write' scope",
        )
    for url in ("/api/v1/returns", f"/api/v1/orders/{order['id']}", "/api/v1/policy", "/api/v1/reasons"):
        assert client.get(url, headers=reader).status_code == 200
        problem(
            client.get(url, headers=writer), 403, "insufficient_scope", detail="this API key lacks the 'read' scope"
        )
    assert state(factory) == before


# ---- one shop never reaches another's ---------------------------------------------------------


def test_a_key_of_shop_b_gets_404_for_everything_of_shop_a(
    client: TestClient, shop: Shop, factory: sessionmaker[Session]
) -> None:
    order = create_order(client, shop)
    theirs = create_return(client, shop, order)
    other = new_shop(factory)
    before = state(factory)
    h = other["headers"]
    for response in (
        client.get(f"/api/v1/orders/{order['id']}", headers=h),
        client.get(f"/api/v1/orders/{order['id']}/returnable", headers=h),
        client.get(f"/api/v1/returns/{theirs['id']}", headers=h),
        client.post(f"/api/v1/returns/{theirs['id']}/approve", headers=h),
        client.post(f"/api/v1/returns/{theirs['id']}/reject", headers=h),
        client.post(f"/api/v1/returns/{theirs['id']}/cancel", headers=h),
        client.post("/api/v1/returns", json=return_body(order), headers=h),
        client.post("/api/v1/policy/dry-run", json={"order_id": order["id"], "policy": DEFAULT_POLICY}, headers=h),
    ):
        problem(response, 404, "not_found")
    listed = client.get("/api/v1/returns", headers=h).json()
    assert listed == {"items": [], "next_cursor": None}
    assert client.get(f"/api/v1/returns?order_id={order['id']}", headers=h).json()["items"] == []
    assert client.get(f"/api/v1/returns?q={theirs['number']}", headers=h).json()["items"] == []
    assert state(factory) == before
    mine = client.get(f"/api/v1/returns/{theirs['id']}", headers=shop["headers"]).json()
    assert (mine["status"], len(mine["timeline"])) == ("approved", 2)


def test_the_same_external_id_in_two_shops_makes_two_orders(
    client: TestClient, shop: Shop, factory: sessionmaker[Session]
) -> None:
    other = new_shop(factory)
    payload = factories.order_payload()
    first = client.post("/api/v1/orders", json=payload, headers=shop["headers"])
    second = client.post("/api/v1/orders", json=payload, headers=other["headers"])
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


# ---- orders ------------------------------------------------------------------------------------


def test_order_upsert_is_201_then_200_without_duplicate_lines(
    client: TestClient, shop: Shop, factory: sessionmaker[Session]
) -> None:
    payload = factories.order_payload()
    created = client.post("/api/v1/orders", json=payload, headers=shop["headers"])
    assert created.status_code == 201
    again = client.post("/api/v1/orders", json=payload, headers=shop["headers"])
    assert again.status_code == 200
    assert again.json() == created.json()
    body = created.json()
    assert [(line["external_id"], line["quantity"], line["paid_amount"]) for line in body["lines"]] == [
        ("l1", 2, 25800),
        ("l2", 1, 8900),
    ]
    assert (body["total_paid_amount"], body["shipping_amount"], body["email"]) == (
        35190,
        490,
        payload["customer"]["email"],
    )
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(OrderLine)) == 2
    payload["lines"][0]["quantity"] = 3
    updated = client.post("/api/v1/orders", json=payload, headers=shop["headers"])
    assert updated.status_code == 200
    assert [line["id"] for line in updated.json()["lines"]] == [line["id"] for line in body["lines"]]
    assert updated.json()["lines"][0]["quantity"] == 3
    fetched = client.get(f"/api/v1/orders/{body['id']}", headers=shop["headers"])
    assert fetched.json() == updated.json()


def test_order_dates_are_kept_as_instants_and_answered_in_utc(client: TestClient, shop: Shop) -> None:
    payload = factories.order_payload(
        placed_at="2026-01-01T00:30:00+02:00",
        shipped_at="2026-01-02T09:00:00+01:00",
        delivered_at="2026-01-03T14:00:00-05:00",
    )
    created = client.post("/api/v1/orders", json=payload, headers=shop["headers"]).json()
    fetched = client.get(f"/api/v1/orders/{created['id']}", headers=shop["headers"]).json()
    for body in (created, fetched):
        assert (body["placed_at"], body["shipped_at"], body["delivered_at"]) == (
            "2025-12-31T22:30:00Z",
            "2026-01-02T08:00:00Z",
            "2026-01-03T19:00:00Z",
        )


def test_order_number_taken_by_another_order_is_409(client: TestClient, shop: Shop) -> None:
    first = factories.order_payload()
    create_order(client, shop, number=first["number"])
    response = client.post(
        "/api/v1/orders", json={**factories.order_payload(), "number": first["number"]}, headers=shop["headers"]
    )
    problem(response, 409, "order_number_taken", field="number")


def test_a_line_in_a_return_cannot_be_removed_from_the_order(
    client: TestClient, shop: Shop, factory: sessionmaker[Session]
) -> None:
    payload = factories.order_payload()
    order = client.post("/api/v1/orders", json=payload, headers=shop["headers"]).json()
    create_return(client, shop, order)
    before = state(factory)
    shorter = {**payload, "lines": payload["lines"][1:]}
    problem(
        client.post("/api/v1/orders", json=shorter, headers=shop["headers"]), 409, "order_line_in_return", field="lines"
    )
    assert state(factory) == before
    assert len(client.get(f"/api/v1/orders/{order['id']}", headers=shop["headers"]).json()["lines"]) == 2


# ---- validation problems ---------------------------------------------------------------------


def _order_with(**change: Any) -> dict[str, Any]:
    payload = factories.order_payload()
    for path, value in change.items():
        target: Any = payload
        parts = path.split("__")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        target[parts[-1]] = value
    return payload


@pytest.mark.parametrize(
    ("payload", "field", "type_"),
    [
        (_order_with(lines__0__quantity=0), "lines.0.quantity", "greater_than_equal"),
        (_order_with(lines__1__unit_price_amount=10**13), "lines.1.unit_price_amount", "less_than_equal"),
        (_order_with(customer__email="not-an-email"), "customer.email", "string_pattern_mismatch"),
        (_order_with(currency="XYZ"), "currency", "value_error"),
        (_order_with(placed_at="2026-01-01T10:00:00"), "placed_at", "timezone_aware"),
        (_order_with(placed_at="0001-01-01T00:00:00+05:00"), "placed_at", "value_error"),
        (_order_with(shipping_amount=-1), "shipping_amount", "greater_than_equal"),
        (_order_with(colour="blue"), "colour", "extra_forbidden"),
        (_order_with(lines=[]), "lines", "too_short"),
    ],
)
def test_invalid_order_is_422_naming_the_field(
    client: TestClient, shop: Shop, factory: sessionmaker[Session], payload: dict[str, Any], field: str, type_: str
) -> None:
    response = client.post("/api/v1/orders", json=payload, headers=shop["headers"])
    body = problem(response, 422, "validation_error", field=field, title="Invalid input")
    assert body["errors"][0]["field"] == field
    assert body["errors"][0]["type"] == type_
    assert body["detail"].startswith(f"{field}: ")
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(OrderLine)) == 0


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lines": []}, "lines"),
        ({"resolution": "cash"}, "resolution"),
        ({"order_id": 2**63}, "order_id"),
        ({"lines": [{"order_line_id": 1, "quantity": 0, "reason_code": "too_small"}]}, "lines.0.quantity"),
        ({"lines": [{"order_line_id": 2**64, "quantity": 1, "reason_code": "too_small"}]}, "lines.0.order_line_id"),
    ],
)
def test_invalid_return_is_422_naming_the_field(
    client: TestClient, shop: Shop, factory: sessionmaker[Session], change: dict[str, Any], field: str
) -> None:
    order = create_order(client, shop)
    before = state(factory)
    response = client.post("/api/v1/returns", json=return_body(order, **change), headers=shop["headers"])
    problem(response, 422, "validation_error", field=field)
    assert state(factory) == before


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/orders/99999999999999999999", "order_id"),
        ("/api/v1/orders/0/returnable", "order_id"),
        ("/api/v1/returns/9223372036854775808", "return_id"),
        ("/api/v1/returns/abc", "return_id"),
        ("/api/v1/returns?limit=0", "limit"),
        ("/api/v1/returns?limit=101", "limit"),
        ("/api/v1/returns?status=lost", "status"),
        ("/api/v1/returns?order_id=99999999999999999999", "order_id"),
        ("/api/v1/returns?created_from=yesterday", "created_from"),
    ],
)
def test_invalid_path_or_query_is_422_naming_it(client: TestClient, shop: Shop, url: str, field: str) -> None:
    problem(client.get(url, headers=shop["headers"]), 422, "validation_error", field=field)


def test_absurd_ids_that_pass_validation_are_404(client: TestClient, shop: Shop) -> None:
    biggest = 2**63 - 1
    for response in (
        client.get(f"/api/v1/orders/{biggest}", headers=shop["headers"]),
        client.get(f"/api/v1/returns/{biggest}", headers=shop["headers"]),
        client.post(f"/api/v1/returns/{biggest}/approve", headers=shop["headers"]),
        client.post(
            "/api/v1/returns",
            json={**return_body(create_order(client, shop)), "order_id": biggest},
            headers=shop["headers"],
        ),
    ):
        problem(response, 404, "not_found")


def test_text_the_database_cannot_store_is_422_not_500(client: TestClient, shop: Shop, engine: Engine) -> None:
    response = client.post("/api/v1/orders", json=factories.order_payload(number="#1\u00002"), headers=shop["headers"])
    if engine.dialect.name == "sqlite":
        assert response.status_code == 201  # SQLite stores it as given
    else:
        problem(response, 422, "invalid_value")
    listed = client.get(
        "/api/v1/returns", params={"q": "a\u0000b", "customer_email": "a\u0000b"}, headers=shop["headers"]
    )
    assert listed.status_code in ((200,) if engine.dialect.name == "sqlite" else (422,))


# ---- returns: refusals, idempotency ----------------------------------------------------------


def test_refused_return_is_a_422_problem_with_its_reason_and_nothing_is_written(
    client: TestClient, shop: Shop, factory: sessionmaker[Session]
) -> None:
    engraved = {
        "external_id": "engraved",
        "sku": "RING-ENGRAVED",
        "title": "Bague gravée",
        "quantity": 1,
        "unit_price_amount": 5900,
        "is_final_sale": True,
    }
    order = create_order(client, shop, lines=[engraved])
    before = state(factory)
    response = client.post("/api/v1/returns", json=return_body(order), headers=shop["headers"])
    body = problem(response, 422, "line_not_returnable", field="lines.0", title="Refused")
    assert body["reason"] == {
        "en": "Final-sale items (such as engraved or personalised pieces) cannot be returned.",
        "fr": "Les articles en vente définitive (gravés ou personnalisés) ne peuvent pas être retournés.",
    }
    assert state(factory) == before


def test_idempotency_key_replays_the_same_answer_and_creates_one_return(
    client: TestClient, shop: Shop, factory: sessionmaker[Session]
) -> None:
    order = create_order(client, shop)
    headers = {**shop["headers"], "Idempotency-Key": "order-77-return-1"}
    body = return_body(order)
    first = client.post("/api/v1/returns", json=body, headers=headers)
    assert first.status_code == 201
    assert "idempotent-replayed" not in first.headers
    again = client.post("/api/v1/returns", json=body, headers=headers)
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert return_count(factory) == 1
    before = state(factory)
    other_body = return_body(order, quantity=2)
    reused = client.post("/api/v1/returns", json=other_body, headers=headers)
    problem(reused, 422, "idempotency_key_reused", field="Idempotency-Key")
    assert state(factory) == before
    # Another shop's key space is its own.
    other = new_shop(factory)
    other_order = create_order(client, other)
    theirs = client.post(
        "/api/v1/returns",
        json=return_body(other_order),
        headers={**other["headers"], "Idempotency-Key": "order-77-return-1"},
    )
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert return_count(factory) == 2


def test_a_refused_request_is_not_remembered_under_its_key(
    client: TestClient, shop: Shop, factory: sessionmaker[Session]
) -> None:
    order = create_order(client, shop)
    headers = {**shop["headers"], "Idempotency-Key": "retry-me"}
    too_many = return_body(order, quantity=3)
    problem(client.post("/api/v1/returns", json=too_many, headers=headers), 422, "quantity_exceeds_returnable")
    assert state(factory).idempotency_records == 0
    fixed = client.post("/api/v1/returns", json=return_body(order, quantity=2), headers=headers)
    assert fixed.status_code == 201 and "idempotent-replayed" not in fixed.headers


# ---- listing, filters, pagination ------------------------------------------------------------


def test_list_filters_by_status_dates_customer_and_search(
    client: TestClient, shop: Shop, factory: sessionmaker[Session]
) -> None:
    base = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
    with clock.frozen(base):
        camille = create_order(client, shop, customer={"email": "Camille@Example.fr", "name": "Camille Martin"})
        lea = create_order(client, shop, customer={"email": "lea@example.fr", "name": "Léa Dubois"})
    created = []
    for day, order in enumerate((camille, lea, camille)):
        with clock.frozen(base + timedelta(days=day + 1)):
            created.append(create_return(client, shop, order, line=1 if day == 2 else 0))
    with clock.frozen(base + timedelta(days=4)):
        client.put(
            "/api/v1/policy",
            json={**DEFAULT_POLICY, "defaults": {**DEFAULT_POLICY["defaults"], "auto_approve": False}},
            headers=shop["headers"],
        )
        pending = create_return(client, shop, lea, line=1)
    h = shop["headers"]

    def ids(**params: Any) -> list[int]:
        response = client.get("/api/v1/returns", params=params, headers=h)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    first, second, third = (item["id"] for item in created)
    assert ids() == [pending["id"], third, second, first]
    assert ids(status="requested") == [pending["id"]]
    assert ids(status="approved") == [third, second, first]
    assert ids(status="cancelled") == []
    # Returns were made at 10:00 UTC on 5, 6, 7 and 8 May.
    assert ids(created_from="2026-05-06T12:00:00Z") == [pending["id"], third]
    assert ids(created_to="2026-05-06T12:00:00Z") == [second, first]
    assert ids(created_from="2026-05-06T12:00:00Z", created_to="2026-05-07T12:00:00Z") == [third]
    assert ids(created_from="2026-05-06T12:00:00", created_to="2026-05-07T12:00:00") == [third]  # naive: UTC
    # 11:00 in Paris is 09:00 UTC: just before the third return, and just before the last one.
    assert ids(created_from="2026-05-07T11:00:00+02:00", created_to="2026-05-08T11:00:00+02:00") == [third]
    assert ids(customer_email="camille@example.fr") == [third, first]
    assert ids(customer_email="CAMILLE@example.fr") == [third, first]
    assert ids(q=created[1]["number"].lower()) == [second]
    assert ids(q=lea["number"]) == [pending["id"], second]
    assert ids(q="dubois") == [pending["id"], second]
    assert ids(q="camille@") == [third, first]
    assert ids(order_id=lea["id"], status="approved") == [second]
    problem(
        client.get("/api/v1/returns?created_from=0001-01-01T00:00:00%2B05:00", headers=h),
        422,
        "invalid_date",
        field="created_from",
    )


def test_cursor_pagination_walks_every_return_once(client: TestClient, shop: Shop) -> None:
    expected = []
    for _ in range(4):
        order = create_order(client, shop)
        expected += [create_return(client, shop, order, line=line)["id"] for line in (0, 0, 1)]
    expected.reverse()
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 5}
        if cursor:
            params["cursor"] = cursor
        page = client.get("/api/v1/returns", params=params, headers=shop["headers"]).json()
        pages += 1
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == expected
    assert len(set(seen)) == 12


def test_cursor_is_stable_while_new_returns_arrive(client: TestClient, shop: Shop) -> None:
    order = create_order(client, shop)
    older = [create_return(client, shop, order)["id"] for _ in range(2)]
    page = client.get("/api/v1/returns", params={"limit": 1}, headers=shop["headers"]).json()
    assert [item["id"] for item in page["items"]] == [older[1]]
    create_return(client, shop, order, line=1)
    rest = client.get(
        "/api/v1/returns", params={"limit": 5, "cursor": page["next_cursor"]}, headers=shop["headers"]
    ).json()
    assert ([item["id"] for item in rest["items"]], rest["next_cursor"]) == ([older[0]], None)


@pytest.mark.parametrize("cursor", ["garbage!", "cjp4", "cjotMQ", "cjo5OTk5OTk5OTk5OTk5OTk5OTk5OTk5", "eDox"])
def test_invalid_cursor_is_422(client: TestClient, shop: Shop, cursor: str) -> None:
    problem(
        client.get("/api/v1/returns", params={"cursor": cursor}, headers=shop["headers"]),
        422,
        "invalid_cursor",
        field="cursor",
    )


# ---- one return, its timeline and its transitions -------------------------------------------


def test_return_detail_has_its_timeline_and_transitions_answer_409_when_refused(
    client: TestClient, shop: Shop, factory: sessionmaker[Session]
) -> None:
    client.put(
        "/api/v1/policy",
        json={**DEFAULT_POLICY, "defaults": {**DEFAULT_POLICY["defaults"], "auto_approve": False}},
        headers=shop["headers"],
    )
    order = create_order(client, shop)
    created = create_return(client, shop, order, quantity=2)
    assert (created["status"], created["allowed_actions"], created["timeline"]) == (
        "requested",
        ["approve", "reject", "cancel"],
        None,
    )
    approved = client.post(f"/api/v1/returns/{created['id']}/approve", json={"note": "fine"}, headers=shop["headers"])
    assert approved.status_code == 200
    body = approved.json()
    assert (body["status"], body["decision_note"], body["allowed_actions"]) == ("approved", "fine", ["cancel"])
    assert [line["approved_quantity"] for line in body["lines"]] == [2]
    detail = client.get(f"/api/v1/returns/{created['id']}", headers=shop["headers"]).json()
    key_label = detail["timeline"][0]["actor_label"]
    assert key_label.startswith("API key #")
    assert [(e["action"], e["actor_type"], e["before"], e["after"]) for e in detail["timeline"]] == [
        (
            "return.requested",
            "api_key",
            None,
            {
                "number": "R-000001",
                "status": "requested",
                "resolution": "refund",
                "method": "prepaid_label",
                "total_amount": 25800,
                "lines": [{"order_line_id": order["lines"][0]["id"], "quantity": 2, "reason": "too_small"}],
            },
        ),
        ("return.approved", "api_key", {"status": "requested"}, {"status": "approved", "note": "fine"}),
    ]
    assert all(event["at"].endswith("Z") for event in detail["timeline"])
    assert detail["created_at"].endswith("Z") and detail["updated_at"].endswith("Z")
    before = state(factory)
    for action, past in (("approve", "approved"), ("reject", "rejected")):
        problem(
            client.post(f"/api/v1/returns/{created['id']}/{action}", headers=shop["headers"]),
            409,
            "invalid_transition",
            detail=f"a return that is approved cannot be {past}",
            current_status="approved",
        )
    assert state(factory) == before
    cancelled = client.post(f"/api/v1/returns/{created['id']}/cancel", headers=shop["headers"]).json()
    assert (cancelled["status"], cancelled["allowed_actions"]) == ("cancelled", [])
    assert [event["action"] for event in cancelled["timeline"]] == [
        "return.requested",
        "return.approved",
        "return.cancelled",
    ]
    returnable = client.get(f"/api/v1/orders/{order['id']}/returnable", headers=shop["headers"]).json()
    assert returnable["lines"][0]["returnable_quantity"] == 2


def test_reject_with_a_note(client: TestClient, shop: Shop) -> None:
    client.put(
        "/api/v1/policy",
        json={**DEFAULT_POLICY, "defaults": {**DEFAULT_POLICY["defaults"], "auto_approve": False}},
        headers=shop["headers"],
    )
    created = create_return(client, shop, create_order(client, shop))
    rejected = client.post(
        f"/api/v1/returns/{created['id']}/reject", json={"note": "worn"}, headers=shop["headers"]
    ).json()
    assert (rejected["status"], rejected["decision_note"]) == ("rejected", "worn")
    problem(
        client.post(f"/api/v1/returns/{created['id']}/cancel", headers=shop["headers"]),
        409,
        "invalid_transition",
        current_status="rejected",
    )


# ---- policy ----------------------------------------------------------------------------------


HIGH_VALUE = {
    "id": "high-value",
    "name": {"en": "High value", "fr": "Forte valeur"},
    "when": {"unit_price_gte": 10000},
    "then": {"manual_review": True},
}


def test_policy_versions_and_a_return_keeps_the_version_that_judged_it(client: TestClient, shop: Shop) -> None:
    h = shop["headers"]
    current = client.get("/api/v1/policy", headers=h).json()
    assert current["version"] == 1
    assert [rule["id"] for rule in current["document"]["rules"]] == ["final-sale", "our-mistake"]
    order = create_order(client, shop)
    first = create_return(client, shop, order)
    document = {**DEFAULT_POLICY, "rules": [*DEFAULT_POLICY["rules"], HIGH_VALUE]}
    published = client.put("/api/v1/policy", json=document, headers=h)
    assert published.status_code == 200
    assert published.json()["version"] == 2
    assert client.get("/api/v1/policy", headers=h).json() == published.json()
    second = create_return(client, shop, order)
    assert (second["policy_version"], second["status"], second["needs_review"]) == (2, "requested", True)
    assert second["review_reasons"] == [
        {
            "rule_id": "high-value",
            "en": "High value: reviewed by our team before approval.",
            "fr": "Forte valeur : examiné par notre équipe avant validation.",
        }
    ]
    assert client.get(f"/api/v1/returns/{first['id']}", headers=h).json()["policy_version"] == 1
    assert client.get(f"/api/v1/orders/{order['id']}/returnable", headers=h).json()["policy_version"] == 2


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"defaults": {"window_days": -1}}, "defaults.window_days"),
        ({"defaults": {"windw_days": 30}}, "defaults.windw_days"),
        ({"rules": [{"id": "x", "name": {"en": "a", "fr": "b"}, "then": {"deny": True}}]}, "rules.0.then"),
        ({"rules": [{"id": "Bad Id", "name": {"en": "a", "fr": "b"}, "then": {}}]}, "rules.0.id"),
        (
            {"rules": [{"id": "x", "name": {"en": "a", "fr": "b"}, "then": {"restocking_fee_amount": 10**30}}]},
            "rules.0.then.restocking_fee_amount",
        ),
        ({"defaults": {"restocking_fee_percent": "NaN"}}, "defaults.restocking_fee_percent"),
        (
            {"rules": [{"id": "x", "name": {"en": "a", "fr": "b"}, "when": {"skus": "RING"}, "then": {}}]},
            "rules.0.when.skus",
        ),
    ],
)
def test_invalid_policy_is_422_naming_the_field_and_publishes_nothing(
    client: TestClient, shop: Shop, document: dict[str, Any], field: str
) -> None:
    response = client.put("/api/v1/policy", json=document, headers=shop["headers"])
    problem(response, 422, "invalid_policy", field=field)
    assert client.get("/api/v1/policy", headers=shop["headers"]).json()["version"] == 1


def test_dry_run_shows_which_rules_fire_without_publishing(client: TestClient, shop: Shop) -> None:
    h = shop["headers"]
    order = create_order(client, shop)
    ring, necklace = (line["id"] for line in order["lines"])
    draft = {
        **DEFAULT_POLICY,
        "rules": [
            *DEFAULT_POLICY["rules"],
            HIGH_VALUE,
            {
                "id": "necklaces-fee",
                "name": {"en": "Necklaces", "fr": "Colliers"},
                "when": {"categories": ["necklaces"]},
                "then": {"restocking_fee_percent": "10"},
            },
        ],
    }
    response = client.post(
        "/api/v1/policy/dry-run",
        json={"order_id": order["id"], "policy": draft, "reasons": {str(necklace): "damaged"}},
        headers=h,
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["policy_version"] == 0
    lines = {line["order_line_id"]: line for line in result["lines"]}
    assert lines[ring]["status"] == "needs_review"
    assert [e["rule_id"] for e in lines[ring]["explanations"]] == ["high-value"]
    assert lines[ring]["explanations"][0]["fr"] == "Forte valeur : examiné par notre équipe avant validation."
    assert lines[necklace]["status"] == "eligible"
    assert [e["rule_id"] for e in lines[necklace]["explanations"]] == ["our-mistake", "necklaces-fee"]
    assert (lines[necklace]["restocking_fee_percent"], lines[necklace]["photos_required"]) == ("0", True)  # waived
    assert client.get("/api/v1/policy", headers=h).json()["version"] == 1
    invalid = client.post(
        "/api/v1/policy/dry-run",
        json={"order_id": order["id"], "policy": {"defaults": {"window_days": "soon"}}},
        headers=h,
    )
    problem(invalid, 422, "invalid_policy", field="defaults.window_days")


def test_returnable_explains_each_line(client: TestClient, shop: Shop) -> None:
    order = create_order(client, shop)
    create_return(client, shop, order, quantity=2)
    body = client.get(f"/api/v1/orders/{order['id']}/returnable", headers=shop["headers"]).json()
    assert (body["order_number"], body["currency"], body["policy_version"]) == (order["number"], "EUR", 1)
    ring, necklace = body["lines"]
    assert (ring["returnable_quantity"], ring["status"], ring["refusal"]["rule_id"]) == (
        0,
        "not_eligible",
        "already_returned",
    )
    assert (necklace["returnable_quantity"], necklace["status"], necklace["unit_paid_amount"]) == (1, "eligible", 8900)
    assert necklace["resolutions"] == ["refund", "store_credit", "exchange"]
    assert necklace["methods"] == ["prepaid_label", "drop_off", "customer_ships"]


# ---- reasons, health, OpenAPI ------------------------------------------------------------------


def test_reasons_are_the_shops_tree(client: TestClient, shop: Shop) -> None:
    reasons = client.get("/api/v1/reasons", headers=shop["headers"]).json()
    by_code = {reason["code"]: reason for reason in reasons}
    assert [reason["code"] for reason in reasons][:3] == ["size", "too_small", "too_large"]
    assert by_code["too_small"] == {
        "code": "too_small",
        "parent_code": "size",
        "label_en": "Too small",
        "label_fr": "Trop petit",
        "requires_photo": False,
    }
    assert by_code["damaged"]["requires_photo"] is True
    assert {"changed_mind", "wrong_item", "arrived_late", "defective", "not_as_described"} <= set(by_code)


def test_healthz_checks_the_database(client: TestClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "ok"})


ROUTES = {
    "/api/v1/orders": {"post"},
    "/api/v1/orders/{order_id}": {"get"},
    "/api/v1/orders/{order_id}/returnable": {"get"},
    "/api/v1/returns": {"get", "post"},
    "/api/v1/returns/{return_id}": {"get"},
    "/api/v1/returns/{return_id}/approve": {"post"},
    "/api/v1/returns/{return_id}/reject": {"post"},
    "/api/v1/returns/{return_id}/cancel": {"post"},
    "/api/v1/policy": {"get", "put"},
    "/api/v1/policy/dry-run": {"post"},
    "/api/v1/reasons": {"get"},
    "/api/v1/products": {"post"},
    "/healthz": {"get"},
}


def test_openapi_documents_every_route_its_auth_and_its_problems(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path, methods in ROUTES.items():
        assert methods <= set(paths.get(path, {})), path
    assert spec["components"]["securitySchemes"]["HTTPBearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key of the shop: `Authorization: Bearer rtr_...`",
    }
    problem_ref = {"$ref": "#/components/schemas/Problem"}
    for path, methods in ROUTES.items():
        for method in methods:
            operation = paths[path][method]
            documented = operation["responses"]
            if path.startswith("/api/"):
                assert operation["security"] == [{"HTTPBearer": []}], (path, method)
                for status in ("401", "403", "422"):
                    assert documented[status]["content"][PROBLEM]["schema"] == problem_ref, (path, method, status)
                if "{" in path or path == "/api/v1/policy/dry-run":
                    assert "404" in documented, (path, method)
            assert "503" in documented, (path, method)
    for path, method in (
        ("/api/v1/returns/{return_id}/approve", "post"),
        ("/api/v1/returns/{return_id}/cancel", "post"),
        ("/api/v1/returns", "post"),
        ("/api/v1/orders", "post"),
    ):
        assert "409" in paths[path][method]["responses"], path
    assert set(spec["components"]["schemas"]["Problem"]["required"]) == {"type", "title", "status", "detail", "code"}
    idempotency = [p for p in paths["/api/v1/returns"]["post"]["parameters"] if p["in"] == "header"]
    assert [p["name"] for p in idempotency] == ["idempotency-key"]
