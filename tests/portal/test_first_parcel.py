"""A home pickup or a return in store approved after review: the status page asks the customer for
the courier's slot or the store (the choice made while asking may be gone by then), makes the
documents once chosen, and refuses a choice not offered, naming it, without making anything."""

from __future__ import annotations

import html
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from retour.kit import clock
from retour.kit.actor import Actor
from retour.kit.db import unit_of_work
from retour.models import AuditEvent, Merchant, OutboxMessage, Shipment
from retour.policy import service as policy_service
from retour.policy.defaults import DEFAULT_POLICY
from retour.portal import status
from retour.return_request import service as return_service
from retour.return_request.schemas import ReturnIn
from retour.shipment import service as shipment_service
from tests import factories
from tests.portal.conftest import csrf

SECRET = "test-secret-key-that-is-long-enough-0123456789"
STAFF = Actor("staff", "1", "Agent")
Factory = sessionmaker[Session]
STORES = [
    {"code": "paris", "name": "Maison Lune Paris", "address": "3 rue du Temple", "city": "Paris"},
    {"code": "lyon", "name": "Maison Lune Lyon", "address": "5 place Bellecour", "city": "Lyon"},
]


def _approved_after_review(factory: Factory, merchant_id: int, slug: str, method: str) -> tuple[int, str]:
    with unit_of_work(factory) as session:
        merchant = session.get(Merchant, merchant_id)
        assert merchant is not None
        merchant.settings = {**(merchant.settings or {}), "stores": STORES}
        document = {
            "defaults": {**DEFAULT_POLICY["defaults"], "methods": ["prepaid_label", "home_pickup", "in_store"]},
            "rules": [
                {"id": "review", "name": {"en": "Review", "fr": "Examen"}, "when": {}, "then": {"manual_review": True}}
            ],
        }
        policy_service.publish(session, merchant_id=merchant_id, raw=document, actor=STAFF)
        order = factories.order(session, merchant_id)
        request = return_service.request_return(
            session,
            merchant_id,
            ReturnIn.model_validate(
                {
                    "order_id": order.id,
                    "resolution": "refund",
                    "method": method,
                    "lines": [{"order_line_id": order.lines[0].id, "quantity": 1, "reason_code": "too_small"}],
                }
            ),
            actor=STAFF,
        )
        assert request.status == "requested"
        return_service.approve_return(session, merchant_id, request.id, actor=STAFF)
        return request.id, f"/s/{slug}/r/{status.status_token(SECRET, merchant_id, request.id)}"


def _made(factory: Factory, return_id: int) -> tuple[list[tuple[str, Any, Any, Any]], int, int]:
    with unit_of_work(factory, write=False) as session:
        parcels = session.scalars(select(Shipment).where(Shipment.return_request_id == return_id)).all()
        return (
            [(s.method, s.pickup_date, s.pickup_slot, s.store_code) for s in parcels],
            int(session.scalar(select(func.count()).select_from(AuditEvent)) or 0),
            int(session.scalar(select(func.count()).select_from(OutboxMessage)) or 0),
        )


@pytest.mark.parametrize(
    ("language", "heading"),
    [
        ("en", "Your return is approved: when should the courier come?"),
        ("fr", "Votre retour est accepté : quand le coursier doit-il passer ?"),
    ],
)
def test_the_customer_chooses_the_pickup_slot_once_approved(
    client: TestClient, portal_shop: dict[str, Any], factory: Factory, language: str, heading: str
) -> None:
    return_id, link = _approved_after_review(factory, portal_shop["id"], portal_shop["slug"], "home_pickup")
    page = client.get(f"{link}?lang={language}")
    assert heading in page.text
    assert "Download the label" not in page.text and "Télécharger l'étiquette" not in page.text
    target = shipment_service.pickup_slots(clock.now().date())[3]
    chosen = client.post(
        f"{link}/parcel",
        data={"csrf_token": csrf(page.text), "pickup_date": target.date.isoformat(), "pickup_slot": target.slot},
        follow_redirects=False,
    )
    assert (chosen.status_code, chosen.headers["location"]) == (303, f"{link}?notice=parcel_ready")
    assert _made(factory, return_id)[0] == [("home_pickup", target.date, target.slot, None)]
    shown = client.get(chosen.headers["location"])
    assert heading not in shown.text
    assert "/label.pdf" in shown.text
    # Asked again (a second tab): nothing more is made.
    before = _made(factory, return_id)
    again = client.post(
        f"{link}/parcel",
        data={"csrf_token": csrf(shown.text), "pickup_date": target.date.isoformat(), "pickup_slot": target.slot},
    )
    assert again.status_code == 409
    assert _made(factory, return_id) == before


def test_a_slot_not_offered_is_named_and_nothing_is_made(
    client: TestClient, portal_shop: dict[str, Any], factory: Factory
) -> None:
    return_id, link = _approved_after_review(factory, portal_shop["id"], portal_shop["slug"], "home_pickup")
    before = _made(factory, return_id)
    page = client.get(f"{link}?lang=fr")
    refused = client.post(
        f"{link}/parcel",
        data={"csrf_token": csrf(page.text), "pickup_date": clock.now().date().isoformat(), "pickup_slot": "09-12"},
    )
    assert refused.status_code == 422
    assert "Jour : la date d'enlèvement doit être postérieure à aujourd'hui." in html.unescape(refused.text)
    assert _made(factory, return_id) == before


def test_the_customer_chooses_the_store_and_a_store_not_offered_is_refused(
    client: TestClient, portal_shop: dict[str, Any], factory: Factory
) -> None:
    return_id, link = _approved_after_review(factory, portal_shop["id"], portal_shop["slug"], "in_store")
    page = client.get(f"{link}?lang=en")
    assert "Your return is approved: in which store will you bring it?" in page.text
    assert "Maison Lune Lyon" in page.text and "Maison Lune Paris" in page.text
    before = _made(factory, return_id)
    refused = client.post(f"{link}/parcel", data={"csrf_token": csrf(page.text), "store_code": "marseille"})
    assert refused.status_code == 422
    assert (
        "Store: choose one of the shop&#39;s stores." in refused.text
        or "Store: choose one of the shop's stores." in (refused.text)
    )
    assert _made(factory, return_id) == before
    chosen = client.post(
        f"{link}/parcel", data={"csrf_token": csrf(page.text), "store_code": "lyon"}, follow_redirects=False
    )
    assert chosen.status_code == 303
    assert _made(factory, return_id)[0] == [("in_store", None, None, "lyon")]


def test_the_choice_sent_twice_at_once_makes_one_parcel(portal_shop: dict[str, Any], factory: Factory) -> None:
    import threading

    return_id, _ = _approved_after_review(factory, portal_shop["id"], portal_shop["slug"], "in_store")
    start = threading.Barrier(2)
    outcomes: list[str] = []

    def choose() -> None:
        start.wait()
        try:
            with unit_of_work(factory) as session:
                status.create_first_parcel(
                    session,
                    portal_shop["id"],
                    return_id,
                    pickup_date="",
                    pickup_slot="",
                    store_code="lyon",
                    actor=STAFF,
                )
            outcomes.append("made")
        except Exception as error:
            outcomes.append(getattr(error, "code", repr(error)))

    threads = [threading.Thread(target=choose) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == ["made", "parcel_exists"]
    assert _made(factory, return_id)[0] == [("in_store", None, None, "lyon")]
