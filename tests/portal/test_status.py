"""C6/C8: the status page behind its long-lived signed link, cancelling, and the documents."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.db import unit_of_work
from retour.models import ReturnRequest, Shipment
from retour.portal import status
from tests.portal.conftest import choose, confirm, csrf, open_order, options

SECRET = "test-secret-key-that-is-long-enough-0123456789"


def _new_return(client: TestClient, shop: dict[str, Any], method: str = "prepaid_label") -> str:
    open_order(client, shop)
    choose(client, shop, {shop["lines"][0]: {"quantity": "1", "reason": "too_small"}})
    options(client, shop, resolution="refund", method=method)
    return str(confirm(client, shop).url.path)


def test_the_signed_link_works_without_a_session(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    link = _new_return(client, portal_shop)
    with unit_of_work(factory, write=False) as session:
        created = session.scalars(select(ReturnRequest)).one()
    assert link == f"/s/{portal_shop['slug']}/r/{status.status_token(SECRET, portal_shop['id'], created.id)}"
    with TestClient(client.app, headers={"Accept-Language": "en"}) as stranger:
        page = stranger.get(link)
        assert page.status_code == 200
        assert f"Return {created.number}" in page.text
        assert "Requested" in page.text and "Label created" in page.text
        assert page.text.count('class="done"') == 3  # requested, approved, label created
        assert "€129.00" in page.text
        assert "Download the label (PDF)" in page.text
        label = stranger.get(f"{link}/label.pdf")
        assert label.status_code == 200
        assert label.headers["content-type"] == "application/pdf"
        assert label.content.startswith(b"%PDF")
        slip = stranger.get(f"{link}/packing-slip.pdf")
        assert slip.status_code == 200 and slip.content.startswith(b"%PDF")


def test_tampered_or_foreign_tokens_are_not_found(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    link = _new_return(client, portal_shop)
    token = link.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/s/{portal_shop['slug']}/r/{tampered}").status_code == 404
    assert client.get(f"/s/{portal_shop['slug']}/r/{tampered}/label.pdf").status_code == 404
    assert client.get(f"/s/{portal_shop['slug']}/r/not-a-token").status_code == 404
    with unit_of_work(factory, write=False) as session:
        created = session.scalars(select(ReturnRequest)).one()
    other_secret = status.status_token("another-secret-0123456789-0123456789", portal_shop["id"], created.id)
    assert client.get(f"/s/{portal_shop['slug']}/r/{other_secret}").status_code == 404
    other_shop = status.status_token(SECRET, portal_shop["id"] + 1000, created.id)
    assert client.get(f"/s/{portal_shop['slug']}/r/{other_shop}").status_code == 404
    nowhere = status.status_token(SECRET, portal_shop["id"], created.id + 1000)
    assert client.get(f"/s/{portal_shop['slug']}/r/{nowhere}").status_code == 404


def test_cancel_before_the_parcel_leaves(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    client.headers.update({"Accept-Language": "en"})
    link = _new_return(client, portal_shop)
    page = client.get(link)
    cancelled = client.post(f"{link}/cancel", data={"csrf_token": csrf(page.text)})
    assert cancelled.status_code == 200
    assert "Your return has been cancelled." in cancelled.text
    assert "Cancel this return" not in cancelled.text
    with unit_of_work(factory, write=False) as session:
        assert session.scalars(select(ReturnRequest.status)).one() == "cancelled"
        assert session.scalars(select(Shipment.status)).one() == "cancelled"
    # The ring can be returned again.
    order_page = client.get(f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}")
    assert "Returnable: 2" in order_page.text


def test_cancel_is_refused_politely_once_shipped(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    client.headers.update({"Accept-Language": "en"})
    link = _new_return(client, portal_shop)
    page = client.get(link)
    assert "Cancel this return" in page.text
    with unit_of_work(factory) as session:
        session.scalars(select(Shipment)).one().status = "in_transit"
    refused = client.post(f"{link}/cancel", data={"csrf_token": csrf(page.text)})
    assert refused.status_code == 409
    assert "already on its way" in refused.text
    assert "Cancel this return" not in refused.text
    assert refused.text.count('class="done"') == 4  # ... and in transit
    with unit_of_work(factory, write=False) as session:
        assert session.scalars(select(ReturnRequest.status)).one() == "approved"
