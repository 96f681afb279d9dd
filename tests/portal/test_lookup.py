"""C1: finding the order by email, postal code or gift code; refusals reveal nothing; the rate
limit per client address and per order number, kept in the database."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from retour.cli import server_options
from retour.kit import clock, ids
from retour.kit.db import unit_of_work
from retour.models import PortalLookupFailure, PortalSession
from retour.portal import service
from retour.portal.schemas import LookupIn
from retour.settings import Settings
from tests.portal.conftest import csrf, open_order


def _sessions(factory: sessionmaker[Session]) -> list[PortalSession]:
    with unit_of_work(factory, write=False) as session:
        return list(session.scalars(select(PortalSession)))


def test_lookup_by_email_opens_a_session_on_that_order(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    response = open_order(client, portal_shop, email=portal_shop["email"].upper())
    assert response.status_code == 200
    assert response.url.path == f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}"
    assert f"Commande {portal_shop['number']}" in response.text
    assert "Bague Lune or 52" in response.text
    [opened] = _sessions(factory)
    assert opened.order_id == portal_shop["order_id"]
    assert opened.is_gift is False
    assert clock.as_utc(opened.expires_at) - clock.as_utc(opened.created_at) == timedelta(minutes=30)


def test_lookup_by_postal_code_ignores_spaces_case_and_the_hash(
    client: TestClient, portal_shop: dict[str, Any]
) -> None:
    response = open_order(
        client,
        portal_shop,
        mode="postal_code",
        email="",
        order_number=portal_shop["number"].lstrip("#"),
        postal_code=" 75 011 ",
    )
    assert response.url.path == f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}"


def test_gift_lookup_records_the_recipient(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    response = open_order(
        client, portal_shop, mode="gift", email="", gift_code="gift 7q4k", recipient_email="Alix@Example.org"
    )
    assert response.url.path == f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}"
    [opened] = _sessions(factory)
    assert opened.is_gift is True
    assert opened.gift_recipient_email == "alix@example.org"


def _refused_text(html: str) -> str:
    return html.replace(csrf(html), "")


def test_a_wrong_combination_reveals_nothing(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    headers = {"Accept-Language": "en"}
    client.headers.update(headers)
    wrong_email = open_order(client, portal_shop, email="someone@else.fr")
    unknown_order = open_order(client, portal_shop, order_number="#999999", email="someone@else.fr")
    wrong_gift = open_order(
        client, portal_shop, mode="gift", gift_code="NOPE", recipient_email="a@b.fr", email="someone@else.fr"
    )
    assert wrong_email.status_code == unknown_order.status_code == wrong_gift.status_code == 404
    assert "No order matches these details" in wrong_email.text
    assert "Bague" not in wrong_email.text
    # The refusal for an existing order is word for word the refusal for a made-up one.
    assert _refused_text(wrong_email.text).replace("someone@else.fr", "") == _refused_text(unknown_order.text).replace(
        "#999999", portal_shop["number"]
    ).replace("someone@else.fr", "")
    assert _sessions(factory) == []


def test_an_order_without_gift_code_cannot_be_opened_as_a_gift(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as session:
        from retour.models import Order

        order = session.get(Order, portal_shop["order_id"])
        assert order is not None
        order.gift_code = None
    response = open_order(client, portal_shop, mode="gift", gift_code="", recipient_email="a@b.fr")
    assert response.status_code == 422  # the empty code is a typo, refused before looking
    response = open_order(client, portal_shop, mode="gift", gift_code="GIFT-7Q4K", recipient_email="a@b.fr")
    assert response.status_code == 404


def test_missing_fields_are_named_and_not_counted(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    client.headers.update({"Accept-Language": "en"})
    response = open_order(client, portal_shop, email="not-an-email")
    assert response.status_code == 422
    assert 'id="email" name="email"' in response.text
    assert 'aria-invalid="true" aria-describedby="email-error"' in response.text
    assert "Enter a valid email address" in response.text
    with unit_of_work(factory, write=False) as session:
        assert session.scalar(select(func.count(PortalLookupFailure.id))) == 0


def _fail(client: TestClient, shop: dict[str, Any], number: str) -> Any:
    return open_order(client, shop, order_number=number, email="wrong@example.fr")


def test_rate_limit_per_client_address(app: FastAPI, portal_shop: dict[str, Any]) -> None:
    start = clock.now()
    with TestClient(app, client=("203.0.113.7", 4000), headers={"Accept-Language": "en"}) as client:
        with clock.frozen(start):
            for attempt in range(5):
                assert _fail(client, portal_shop, f"#{5000 + attempt}").status_code == 404
        with clock.frozen(start + timedelta(minutes=5)):
            blocked = open_order(client, portal_shop)  # even the right details wait
            assert blocked.status_code == 429
            assert blocked.headers["Retry-After"] == str(10 * 60)
            assert "Too many attempts" in blocked.text
            assert "try again in 10 minutes" in blocked.text
    with TestClient(app, client=("198.51.100.9", 4000)) as other, clock.frozen(start + timedelta(minutes=5)):
        assert open_order(other, portal_shop).url.path.endswith(f"/orders/{portal_shop['order_id']}")
    with (
        TestClient(app, client=("203.0.113.7", 4000)) as client,
        clock.frozen(start + timedelta(minutes=15, seconds=1)),
    ):
        assert open_order(client, portal_shop).url.path.endswith(f"/orders/{portal_shop['order_id']}")


def test_rate_limit_per_order_number_across_addresses(app: FastAPI, portal_shop: dict[str, Any]) -> None:
    start = clock.now()
    with clock.frozen(start):
        for attempt in range(5):
            with TestClient(app, client=(f"192.0.2.{attempt + 1}", 4000)) as client:
                assert _fail(client, portal_shop, portal_shop["number"]).status_code == 404
        with TestClient(app, client=("192.0.2.99", 4000), headers={"Accept-Language": "fr"}) as client:
            blocked = open_order(client, portal_shop)
            assert blocked.status_code == 429
            assert "Trop de tentatives" in blocked.text
            assert "dans 15 minutes" in blocked.text
            # Another order is not blocked for this fresh address.
            assert _fail(client, portal_shop, "#424242").status_code == 404


def test_failures_are_counted_in_the_database_across_processes(portal_shop: dict[str, Any], session: Session) -> None:
    """The limit is the database's: a second server process sees the failures of the first."""
    data = LookupIn(mode="email", order_number=portal_shop["number"], email="nope@example.fr")
    start = clock.now()
    with clock.frozen(start):
        for _ in range(service.MAX_FAILURES):
            assert service.find_order(session, portal_shop["id"], data, client_address="a").outcome == "not_found"
    with clock.frozen(start + timedelta(minutes=14)):
        right = data.model_copy(update={"email": portal_shop["email"]})
        refused = service.find_order(session, portal_shop["id"], right, client_address="b")
        assert refused.outcome == "rate_limited"
        assert refused.retry_at == start + service.FAILURE_WINDOW
    with clock.frozen(start + timedelta(minutes=16)):
        assert service.find_order(session, portal_shop["id"], right, client_address="b").outcome == "opened"
        # Old failures are purged as new ones come in.
        service.find_order(session, portal_shop["id"], data, client_address="b")
        rows = session.scalars(select(PortalLookupFailure).where(PortalLookupFailure.scope == "order")).all()
        assert len(rows) == 1


def _served(app: FastAPI, settings: Settings) -> Any:
    """The app as ``retour serve`` hands it to uvicorn (its proxy headers middleware included)."""
    config = uvicorn.Config(app, log_config=None, **server_options(settings))
    config.load()
    return config.loaded_app


def _counted_addresses(factory: sessionmaker[Session]) -> list[str]:
    with unit_of_work(factory, write=False) as session:
        return list(
            session.scalars(
                select(PortalLookupFailure.key)
                .where(PortalLookupFailure.scope == "ip")
                .order_by(PortalLookupFailure.id)
            )
        )


@pytest.mark.parametrize(
    ("allowed", "proxy", "counted"),
    [
        ("10.0.0.5", "10.0.0.5", "203.0.113.7"),  # a trusted proxy: the customer's address counts
        ("10.0.0.0/24, 127.0.0.1", "10.0.0.9", "203.0.113.7"),
        ("127.0.0.1", "10.0.0.5", "10.0.0.5"),  # the default trusts only a local proxy
        ("10.0.0.5", "192.0.2.1", "192.0.2.1"),  # anyone else cannot choose the address counted
    ],
)
def test_the_rate_limit_counts_the_address_a_trusted_proxy_forwards(
    app: FastAPI,
    settings: Settings,
    portal_shop: dict[str, Any],
    factory: sessionmaker[Session],
    allowed: str,
    proxy: str,
    counted: str,
) -> None:
    served = _served(app, settings.model_copy(update={"forwarded_allow_ips": allowed}))
    with TestClient(served, client=(proxy, 4000), headers={"X-Forwarded-For": "203.0.113.7"}) as client:
        assert _fail(client, portal_shop, "#5000").status_code == 404
        assert _fail(client, portal_shop, "#5001").status_code == 404
    assert _counted_addresses(factory) == [ids.sha256_hex(counted)] * 2


def test_the_trusted_proxies_come_from_the_settings() -> None:
    assert Settings().forwarded_allow_ips == "127.0.0.1"
    assert server_options(Settings(forwarded_allow_ips="10.0.0.5,10.0.0.6")) == {
        "log_level": "info",
        "proxy_headers": True,
        "forwarded_allow_ips": "10.0.0.5,10.0.0.6",
    }
