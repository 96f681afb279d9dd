"""The language switch on every page, including the pages drawn in answer to a form: it always
leads to a page a link can open (the lookup, the order, the review, the status page) showing the
same step in the other language. A form's address opened as a page goes on to its page."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.db import unit_of_work
from retour.models import ReturnRequest, Shipment
from retour.settings import Settings
from tests.portal.conftest import choose, confirm, csrf, open_order, options
from tests.portal.test_first_parcel import _approved_after_review
from tests.portal.test_parcel import _parcel

Factory = sessionmaker[Session]


def switch(page_html: str, language: str) -> str:
    """Where the page's link to ``language`` leads."""
    found = re.search(rf'<a href="([^"]+)" lang="{language}" hreflang="{language}"', page_html)
    assert found, f"no link to {language}"
    return html.unescape(found.group(1))


def _status_link(client: TestClient, shop: dict[str, Any]) -> str:
    open_order(client, shop)
    choose(client, shop, {shop["lines"][0]: {"quantity": "1", "reason": "too_small"}})
    options(client, shop, resolution="refund", method="prepaid_label")
    return str(confirm(client, shop).url.path)


@pytest.mark.parametrize("mode", ["email", "gift"])
def test_a_refused_lookup_switches_to_the_lookup_page_in_its_mode(
    client: TestClient, portal_shop: dict[str, Any], mode: str
) -> None:
    slug = portal_shop["slug"]
    page = client.get(f"/s/{slug}/?mode={mode}&lang=fr")
    refused = client.post(
        f"/s/{slug}/lookup",
        data={
            "csrf_token": csrf(page.text),
            "mode": mode,
            "order_number": "9999",
            "email": "nobody@example.com",
            "gift_code": "NOPE",
            "recipient_email": "friend@example.com",
        },
    )
    assert refused.status_code == 404
    assert switch(refused.text, "en") == f"/s/{slug}/?mode={mode}&lang=en"
    english = client.get(switch(refused.text, "en"))
    assert english.status_code == 200
    assert english.headers["content-language"] == "en"
    assert '<input type="hidden" name="mode" value="' + mode + '">' in english.text
    assert "Find my order" in english.text


def test_refused_items_switch_to_the_order_page(client: TestClient, portal_shop: dict[str, Any]) -> None:
    slug, order_id = portal_shop["slug"], portal_shop["order_id"]
    client.get(f"/s/{slug}/?lang=fr")
    open_order(client, portal_shop)
    refused = choose(client, portal_shop, {portal_shop["lines"][0]: {"quantity": "1", "reason": ""}})
    assert refused.status_code == 422
    assert refused.url.path == f"/s/{slug}/orders/{order_id}/items"
    assert switch(refused.text, "en") == f"/s/{slug}/orders/{order_id}?lang=en"
    assert switch(refused.text, "fr") == f"/s/{slug}/orders/{order_id}?lang=fr"
    english = client.get(switch(refused.text, "en"))
    assert english.status_code == 200
    assert "Choose what you are sending back, how many and why." in english.text


def test_refused_options_switch_to_the_options_page(client: TestClient, portal_shop: dict[str, Any]) -> None:
    slug, order_id = portal_shop["slug"], portal_shop["order_id"]
    open_order(client, portal_shop)
    choose(client, portal_shop, {portal_shop["lines"][0]: {"quantity": "1", "reason": "too_small"}})
    refused = options(client, portal_shop, resolution="", method="prepaid_label")
    assert refused.status_code == 422
    assert switch(refused.text, "en") == f"/s/{slug}/orders/{order_id}/options?lang=en"
    assert client.get(switch(refused.text, "en")).status_code == 200


def test_a_refused_confirmation_switches_to_the_review_page(client: TestClient, portal_shop: dict[str, Any]) -> None:
    slug, order_id = portal_shop["slug"], portal_shop["order_id"]
    open_order(client, portal_shop)
    choose(client, portal_shop, {portal_shop["lines"][0]: {"quantity": "1", "reason": "too_small"}})
    options(client, portal_shop, resolution="refund", method="prepaid_label")
    forged = client.post(f"/s/{slug}/orders/{order_id}/confirm?lang=en", data={"csrf_token": "forged"})
    assert forged.status_code == 403
    assert switch(forged.text, "fr") == f"/s/{slug}/orders/{order_id}/review?lang=fr"
    french = client.get(switch(forged.text, "fr"))
    assert french.status_code == 200
    assert french.headers["content-language"] == "fr"
    assert "Confirmer mon retour" in french.text


def test_a_refused_cancellation_switches_to_the_status_page(
    client: TestClient, portal_shop: dict[str, Any], factory: Factory
) -> None:
    link = _status_link(client, portal_shop)
    page = client.get(f"{link}?lang=en")
    with unit_of_work(factory) as session:
        session.scalars(select(Shipment)).one().status = "in_transit"
    refused = client.post(f"{link}/cancel", data={"csrf_token": csrf(page.text)})
    assert refused.status_code == 409
    assert switch(refused.text, "fr") == f"{link}?lang=fr"
    french = client.get(switch(refused.text, "fr"))
    assert french.status_code == 200
    assert french.headers["content-language"] == "fr"


def test_a_refused_pickup_move_switches_to_the_status_page(
    client: TestClient, portal_shop: dict[str, Any], factory: Factory, settings: Settings
) -> None:
    parcel = _parcel(factory, settings, portal_shop["id"], portal_shop["slug"])
    page = client.get(f"{parcel.link}?lang=fr")
    refused = client.post(
        f"{parcel.link}/shipments/{parcel.shipment_id}/pickup",
        data={"csrf_token": csrf(page.text), "pickup_date": "31/12/2030", "pickup_slot": "09-12"},
    )
    assert refused.status_code == 422
    assert switch(refused.text, "en") == f"{parcel.link}?lang=en"
    english = client.get(switch(refused.text, "en"))
    assert english.status_code == 200
    assert "Change the pickup day or time" in english.text


def test_a_refused_parcel_choice_switches_to_the_status_page(
    client: TestClient, portal_shop: dict[str, Any], factory: Factory
) -> None:
    _, link = _approved_after_review(factory, portal_shop["id"], portal_shop["slug"], "home_pickup")
    page = client.get(f"{link}?lang=fr")
    refused = client.post(
        f"{link}/parcel", data={"csrf_token": csrf(page.text), "pickup_date": "2001-01-01", "pickup_slot": "09-12"}
    )
    assert refused.status_code == 422
    assert switch(refused.text, "en") == f"{link}?lang=en"
    english = client.get(switch(refused.text, "en"))
    assert english.status_code == 200
    assert "Your return is approved: when should the courier come?" in english.text


def test_a_get_page_switches_to_itself_with_its_query(client: TestClient, portal_shop: dict[str, Any]) -> None:
    slug = portal_shop["slug"]
    page = client.get(f"/s/{slug}/?mode=postal_code&lang=fr")
    assert switch(page.text, "en") == f"/s/{slug}/?mode=postal_code&lang=en"
    assert switch(page.text, "fr") == f"/s/{slug}/?mode=postal_code&lang=fr"


def test_a_form_address_opened_as_a_page_goes_on_to_its_page(
    client: TestClient, portal_shop: dict[str, Any], factory: Factory
) -> None:
    slug, order_id = portal_shop["slug"], portal_shop["order_id"]
    link = _status_link(client, portal_shop)
    with unit_of_work(factory, write=False) as session:
        shipment_id = session.scalars(select(Shipment.id)).one()
    expected = {
        f"/s/{slug}/lookup": f"/s/{slug}/",
        f"/s/{slug}/leave": f"/s/{slug}/",
        f"/s/{slug}/orders/{order_id}/items": f"/s/{slug}/orders/{order_id}",
        f"/s/{slug}/orders/{order_id}/confirm": f"/s/{slug}/orders/{order_id}/review",
        f"{link}/cancel": link,
        f"{link}/parcel": link,
        f"{link}/shipments/{shipment_id}/pickup": link,
    }
    for address, page in expected.items():
        opened = client.get(address, follow_redirects=False)
        assert (opened.status_code, opened.headers["location"]) == (303, page), address
        switched = client.get(f"{address}?lang=en", follow_redirects=False)
        assert (switched.status_code, switched.headers["location"]) == (303, f"{page}?lang=en"), address
        assert client.get(f"{address}?lang=xx", follow_redirects=False).headers["location"] == page
    # Followed, each is a page (the status page needs no session; the order page has one).
    assert client.get(f"{link}/cancel?lang=en").status_code == 200
    assert client.get(f"/s/{slug}/orders/{order_id}/items").status_code == 200
    # Opening the cancel form's address cancels nothing.
    with unit_of_work(factory, write=False) as session:
        assert session.scalars(select(ReturnRequest.status)).one() == "approved"
        assert session.scalars(select(Shipment.status)).one() == "label_created"
