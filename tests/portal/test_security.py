"""C1/7: a portal session sees its own order and nothing else; every form needs its CSRF token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from retour.kit import clock
from retour.kit.db import unit_of_work
from retour.models import PortalSession, ReturnRequest
from retour.shipment import service as shipment_service
from tests import factories
from tests.portal.conftest import choose, confirm, csrf, open_order, options
from tests.portal.test_first_parcel import _approved_after_review, _made


@pytest.fixture
def other(factory: sessionmaker[Session], portal_shop: dict[str, Any]) -> dict[str, Any]:
    """Another order of the same shop, and another shop with an order."""
    with unit_of_work(factory) as session:
        second = factories.order(session, portal_shop["id"])
        shop = factories.merchant(session, name="Autre Maison")
        foreign = factories.order(session, shop.id)
        return {"order_id": second.id, "shop_slug": shop.slug, "foreign_order_id": foreign.id}


def _count(factory: sessionmaker[Session], model: Any) -> int:
    with unit_of_work(factory, write=False) as session:
        return int(session.scalar(select(func.count(model.id))) or 0)


def _return_id(client: TestClient, shop: dict[str, Any]) -> int:
    choose(client, shop, {shop["lines"][0]: {"quantity": "1", "reason": "too_small"}})
    options(client, shop, resolution="refund", method="prepaid_label")
    confirm(client, shop)
    return 0


def test_the_session_sees_only_its_order(
    client: TestClient, portal_shop: dict[str, Any], other: dict[str, Any]
) -> None:
    slug = portal_shop["slug"]
    assert client.get(f"/s/{slug}/orders/{portal_shop['order_id']}").status_code == 404  # no session yet
    open_order(client, portal_shop)
    assert client.get(f"/s/{slug}/orders/{portal_shop['order_id']}").status_code == 200
    for path in ("", "/options", "/review", "/quote?resolution=refund"):
        assert client.get(f"/s/{slug}/orders/{other['order_id']}{path}").status_code == 404
        assert client.get(f"/s/{slug}/orders/{other['foreign_order_id']}{path}").status_code == 404
        assert client.get(f"/s/{other['shop_slug']}/orders/{other['foreign_order_id']}{path}").status_code == 404
        assert client.get(f"/s/{other['shop_slug']}/orders/{portal_shop['order_id']}{path}").status_code == 404
    page = client.get(f"/s/{slug}/orders/{portal_shop['order_id']}")
    posted = client.post(
        f"/s/{slug}/orders/{other['order_id']}/items",
        data={"csrf_token": csrf(page.text), "line-1-quantity": "1", "line-1-reason": "too_small"},
    )
    assert posted.status_code == 404
    missing = client.get("/s/no-such-shop/")
    assert missing.status_code == 404
    assert "Page not found" in missing.text or "Page introuvable" in missing.text


def test_returns_of_other_orders_are_not_reachable(
    client: TestClient, portal_shop: dict[str, Any], other: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    open_order(client, portal_shop)
    _return_id(client, portal_shop)
    with unit_of_work(factory, write=False) as session:
        [mine] = session.scalars(select(ReturnRequest)).all()
    own = client.get(f"/s/{portal_shop['slug']}/returns/{mine.id}")
    assert own.status_code == 200 and "/r/" in own.url.path
    assert client.get(f"/s/{other['shop_slug']}/returns/{mine.id}").status_code == 404
    assert client.get(f"/s/{portal_shop['slug']}/returns/{mine.id + 1}").status_code == 404
    with TestClient(client.app) as stranger:
        assert stranger.get(f"/s/{portal_shop['slug']}/returns/{mine.id}").status_code == 404


def test_an_expired_session_asks_for_the_lookup_again(client: TestClient, portal_shop: dict[str, Any]) -> None:
    open_order(client, portal_shop)
    with clock.frozen(clock.now() + timedelta(minutes=31)):
        response = client.get(f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}")
    assert response.url.path == f"/s/{portal_shop['slug']}/"
    assert response.url.query == b"expired=1"
    assert "Votre session a pris fin" in response.text


def test_leaving_ends_the_session(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    page = open_order(client, portal_shop)
    left = client.post(f"/s/{portal_shop['slug']}/leave", data={"csrf_token": csrf(page.text)})
    assert left.url.path == f"/s/{portal_shop['slug']}/"
    assert _count(factory, PortalSession) == 0
    assert client.get(f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}").status_code == 404


def test_forms_without_csrf_are_refused_and_change_nothing(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    slug, order_id = portal_shop["slug"], portal_shop["order_id"]
    client.headers.update({"Accept-Language": "en"})
    lookup = client.post(
        f"/s/{slug}/lookup",
        data={"mode": "email", "order_number": portal_shop["number"], "email": portal_shop["email"]},
    )
    assert lookup.status_code == 403
    assert "This form has expired" in lookup.text
    assert _count(factory, PortalSession) == 0
    open_order(client, portal_shop)
    ring = portal_shop["lines"][0]
    items = client.post(
        f"/s/{slug}/orders/{order_id}/items", data={f"line-{ring}-quantity": "1", f"line-{ring}-reason": "too_small"}
    )
    assert items.status_code == 403
    choose(client, portal_shop, {ring: {"quantity": "1", "reason": "too_small"}})
    assert client.post(f"/s/{slug}/orders/{order_id}/options", data={"resolution": "refund"}).status_code == 403
    options(client, portal_shop, resolution="refund", method="prepaid_label")
    forged = client.post(f"/s/{slug}/orders/{order_id}/confirm", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert client.post(f"/s/{slug}/orders/{order_id}/confirm").status_code == 403
    assert _count(factory, ReturnRequest) == 0
    status = confirm(client, portal_shop)
    assert _count(factory, ReturnRequest) == 1
    cancel_path = status.url.path + "/cancel"
    assert client.post(cancel_path).status_code == 403
    with unit_of_work(factory, write=False) as session:
        assert session.scalars(select(ReturnRequest.status)).one() == "approved"


def test_leaving_without_or_with_a_wrong_csrf_token_is_refused_and_keeps_the_session(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    slug, order_id = portal_shop["slug"], portal_shop["order_id"]
    client.headers.update({"Accept-Language": "en"})
    open_order(client, portal_shop)
    with unit_of_work(factory, write=False) as session:
        before = [(row.id, row.token_hash, row.order_id) for row in session.scalars(select(PortalSession))]
    assert len(before) == 1
    for data in ({}, {"csrf_token": "forged"}, {"csrf_token": ""}):
        refused = client.post(f"/s/{slug}/leave", data=data, follow_redirects=False)
        assert refused.status_code == 403
        assert "This form has expired" in refused.text
    with unit_of_work(factory, write=False) as session:
        assert [(row.id, row.token_hash, row.order_id) for row in session.scalars(select(PortalSession))] == before
    assert client.get(f"/s/{slug}/orders/{order_id}").status_code == 200  # still open in this browser


def test_choosing_the_parcel_without_or_with_a_wrong_csrf_token_is_refused_and_makes_nothing(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    return_id, link = _approved_after_review(factory, portal_shop["id"], portal_shop["slug"], "home_pickup")
    client.headers.update({"Accept-Language": "en"})
    page = client.get(link)
    assert "Your return is approved: when should the courier come?" in page.text
    before = _made(factory, return_id)
    offered = shipment_service.pickup_slots(clock.now().date())[0]
    chosen = {"pickup_date": offered.date.isoformat(), "pickup_slot": offered.slot}
    for token in ({}, {"csrf_token": "forged"}, {"csrf_token": csrf(page.text)[:-1]}):
        refused = client.post(f"{link}/parcel", data={**chosen, **token}, follow_redirects=False)
        assert refused.status_code == 403
        assert "This form has expired" in refused.text
    assert _made(factory, return_id) == before
    assert before[0] == []  # no parcel
    # A stranger's browser (another session, so another token) is refused too.
    with TestClient(client.app) as stranger:
        stranger.get(link)
        forged = stranger.post(f"{link}/parcel", data={**chosen, "csrf_token": csrf(page.text)})
        assert forged.status_code == 403
    assert _made(factory, return_id) == before
