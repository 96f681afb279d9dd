"""Back-office test helpers: staff of each role, returns in a known state, and a signed-in client."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.actor import Actor
from retour.kit.db import unit_of_work
from retour.merchant import service as merchant_service
from retour.policy import service as policy_service
from retour.return_request import service as return_service
from retour.return_request.schemas import ReturnIn
from tests import factories

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REVIEW_HIGH_VALUE = {
    "id": "high-value",
    "name": {"en": "High value", "fr": "Forte valeur"},
    "when": {"unit_price_gte": 10000},
    "then": {"manual_review": True},
}


def add_staff(
    factory: sessionmaker[Session], merchant_id: int, role: str, *, email: str | None = None, language: str = "fr"
) -> str:
    email = email or f"{role}-{merchant_id}@maison.test"
    with unit_of_work(factory) as session:
        merchant_service.create_staff_user(
            session,
            merchant_id=merchant_id,
            email=email,
            password=factories.STAFF_PASSWORD,
            role=role,  # type: ignore[arg-type]
            name=f"{role.title()} Martin",
            language=language,
        )
    return email


def review_policy(factory: sessionmaker[Session], merchant_id: int) -> None:
    """Rings (129 €) need a manual review, so their returns stay ``requested``."""
    with unit_of_work(factory) as session:
        policy_service.publish(
            session,
            merchant_id=merchant_id,
            raw={"defaults": {"window_days": 30}, "rules": [REVIEW_HIGH_VALUE]},
            actor=Actor.system("tests"),
        )


def make_return(factory: sessionmaker[Session], merchant_id: int, *, line: int = 0, **order: Any) -> dict[str, Any]:
    """A return of one unit of the order's ``line`` (0: the ring, 1: the necklace)."""
    with unit_of_work(factory) as session:
        created = factories.order(session, merchant_id, **order)
        data = ReturnIn.model_validate(
            {
                "order_id": created.id,
                "resolution": "refund",
                "method": "prepaid_label",
                "lines": [
                    {"order_line_id": created.lines[line].id, "quantity": 1, "reason_code": "too_small"},
                ],
            }
        )
        request = return_service.request_return(session, merchant_id, data, actor=Actor.system("tests"))
        return {
            "id": request.id,
            "number": request.number,
            "status": request.status,
            "order_number": created.number,
            "email": created.email,
        }


def csrf_of(page: str) -> str:
    match = CSRF.search(page)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client: TestClient, email: str, password: str = factories.STAFF_PASSWORD, **extra: str) -> Any:
    token = csrf_of(client.get("/backoffice/login").text)
    return client.post(
        "/backoffice/login",
        data={"email": email, "password": password, "csrf_token": token, **extra},
        follow_redirects=False,
    )


def return_state(factory: sessionmaker[Session], merchant_id: int, return_id: int) -> tuple[str, list[str]]:
    """The return's status and the actions of its timeline, read back from the database."""
    with unit_of_work(factory, write=False) as session:
        request = return_service.get_return(session, merchant_id, return_id)
        events = return_service.timeline(session, merchant_id, return_id)
        return request.status, [event.action for event in events]


@pytest.fixture
def admin(client: TestClient, factory: sessionmaker[Session], shop: dict[str, Any]) -> TestClient:
    """The client, signed in as the shop's admin (French)."""
    email = add_staff(factory, int(shop["id"]), "admin")
    assert login(client, email).status_code == 303
    return client
