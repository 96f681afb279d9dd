"""Portal tests: a shop with a delivered order, and helpers that walk the pages like a browser
would (reading the CSRF token from the form, following POST-redirect-GET)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from retour.catalog import service as catalog_service
from retour.catalog.schemas import ProductIn
from retour.kit.db import unit_of_work
from tests import factories

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF field on the page"
    return found.group(1)


@pytest.fixture
def portal_shop(factory: sessionmaker[Session]) -> dict[str, Any]:
    """A committed shop (``Maison Lune``) with a ring in three sizes and a delivered order with
    a gift code: ``{"id", "slug", "order_id", "number", "email", "lines": [ring, necklace], ...}``."""
    with unit_of_work(factory) as session:
        merchant = factories.merchant(session, name="Maison Lune")
        merchant.brand_color = "#b08d57"
        merchant.settings = {
            "stores": [{"code": "paris", "name": "Maison Lune Paris", "address": "3 rue du Temple", "city": "Paris"}]
        }
        catalog_service.upsert_product(
            session,
            merchant.id,
            ProductIn.model_validate(
                {
                    "external_id": "ring-lune",
                    "title": "Bague Lune",
                    "category": "rings",
                    "currency": "EUR",
                    "variants": [
                        {"sku": "RING-GOLD-52", "title": "Or 52", "price_amount": 12900},
                        {"sku": "RING-GOLD-54", "title": "Or 54", "price_amount": 12900},
                        {"sku": "RING-GOLD-56", "title": "Or 56", "price_amount": 12900},
                    ],
                }
            ),
        )
        order = factories.order(session, merchant.id, gift_code="GIFT-7Q4K")
        return {
            "id": merchant.id,
            "slug": merchant.slug,
            "order_id": order.id,
            "number": order.number,
            "email": order.email,
            "postal_code": order.postal_code,
            "gift_code": "GIFT-7Q4K",
            "lines": [line.id for line in order.lines],
        }


def open_order(client: TestClient, shop: dict[str, Any], **form: str) -> Any:
    """Look the order up (by email unless told otherwise) and return the response."""
    page = client.get(f"/s/{shop['slug']}/")
    data = {"mode": "email", "order_number": shop["number"], "email": shop["email"], **form}
    return client.post(f"/s/{shop['slug']}/lookup", data={"csrf_token": csrf(page.text), **data})


def choose(client: TestClient, shop: dict[str, Any], items: dict[int, dict[str, str]], files: Any = None) -> Any:
    page = client.get(f"/s/{shop['slug']}/orders/{shop['order_id']}")
    data: dict[str, str] = {"csrf_token": csrf(page.text)}
    for line_id, fields in items.items():
        for name, value in fields.items():
            data[f"line-{line_id}-{name}"] = value
    return client.post(f"/s/{shop['slug']}/orders/{shop['order_id']}/items", data=data, files=files)


def options(client: TestClient, shop: dict[str, Any], **fields: str) -> Any:
    page = client.get(f"/s/{shop['slug']}/orders/{shop['order_id']}/options")
    return client.post(
        f"/s/{shop['slug']}/orders/{shop['order_id']}/options", data={"csrf_token": csrf(page.text), **fields}
    )


def confirm(client: TestClient, shop: dict[str, Any]) -> Any:
    page = client.get(f"/s/{shop['slug']}/orders/{shop['order_id']}/review")
    assert page.status_code == 200, page.text
    return client.post(f"/s/{shop['slug']}/orders/{shop['order_id']}/confirm", data={"csrf_token": csrf(page.text)})
