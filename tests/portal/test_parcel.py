"""C6: the parcel on the status page: carrier scans, the steps they move, a label that expired,
and a home pickup moved by the customer (only their own return's parcel, only to a slot offered)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from babel.dates import format_date, format_datetime
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from retour.kit import clock
from retour.kit.db import unit_of_work
from retour.models import AuditEvent, OutboxMessage, ReturnRequest, Shipment
from retour.portal import status
from retour.settings import Settings
from retour.shipment import service as shipment_service
from retour.shipment import tracking
from retour.shipment.carriers import TrackingEvent
from tests import factories
from tests.portal.conftest import csrf
from tests.warehouse.builders import AGENT, create_return

SECRET = "test-secret-key-that-is-long-enough-0123456789"
Factory = sessionmaker[Session]


@dataclass(frozen=True)
class Parcel:
    merchant_id: int
    return_id: int
    shipment_id: int
    link: str
    tracking_number: str


def _parcel(factory: Factory, settings: Settings, merchant_id: int, slug: str, method: str = "home_pickup") -> Parcel:
    """An approved return of this shop with one parcel (a home pickup on the first offered slot)."""
    first = shipment_service.pickup_slots(clock.now().date())[0]
    with unit_of_work(factory) as session:
        request = create_return(session, merchant_id, {"RING-GOLD-52": 1})
        shipment = shipment_service.create_shipment(
            session,
            merchant_id,
            request,
            method=method,
            pickup_date=first.date if method == "home_pickup" else None,
            pickup_slot=first.slot if method == "home_pickup" else None,
            actor=AGENT,
            storage_dir=settings.storage_dir,
        )
        session.flush()
        link = f"/s/{slug}/r/{status.status_token(SECRET, merchant_id, request.id)}"
        return Parcel(merchant_id, request.id, shipment.id, link, shipment.tracking_number or "")


def _scan(number: str, state: str, at: datetime, text: str, where: str | None, key: str) -> TrackingEvent:
    return TrackingEvent(at=at, status=state, description=text, external_id=key, location=where, tracking_number=number)


def _snapshot(factory: Factory, shipment_id: int) -> tuple[Any, ...]:
    """What a refused move must leave as it was: the parcel's slot, the audit trail, the outbox."""
    with unit_of_work(factory, write=False) as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        return (
            shipment.pickup_date,
            shipment.pickup_slot,
            shipment.status,
            session.scalar(select(func.count()).select_from(AuditEvent)),
            session.scalar(select(func.count()).select_from(OutboxMessage)),
        )


def _next_weekday(today: date, weekday: int) -> date:
    day = today + timedelta(days=1)
    while day.weekday() != weekday:
        day += timedelta(days=1)
    return day


# ---- Scans and steps -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "steps", "first", "second"),
    [
        ("en", ("In transit", "Delivered to our warehouse"), "6 Mar 2026 09:05", "5 Mar 2026 16:40"),
        ("fr", ("En transit", "Livré à notre entrepôt"), "6 mars 2026 09:05", "5 mars 2026 16:40"),
    ],
)
def test_the_status_page_lists_the_carrier_scans_newest_first(
    client: TestClient,
    portal_shop: dict[str, Any],
    factory: Factory,
    settings: Settings,
    language: str,
    steps: tuple[str, str],
    first: str,
    second: str,
) -> None:
    parcel = _parcel(factory, settings, portal_shop["id"], portal_shop["slug"], method="prepaid_label")
    with unit_of_work(factory) as session:
        tracking.record_scans(
            session,
            parcel.merchant_id,
            parcel.shipment_id,
            [
                _scan(
                    parcel.tracking_number,
                    "in_transit",
                    datetime(2026, 3, 5, 16, 40, tzinfo=UTC),
                    "Parcel picked up",
                    "Lyon CTC",
                    "s1",
                ),
                _scan(
                    parcel.tracking_number,
                    "delivered",
                    datetime(2026, 3, 6, 9, 5, tzinfo=UTC),
                    "Delivered",
                    "Paris 11",
                    "s2",
                ),
            ],
            source="api",
        )
    page = client.get(f"{parcel.link}?lang={language}")
    assert page.status_code == 200
    scans = page.text.split('class="scans"')[1].split("</ol>")[0]
    assert scans.index(first) < scans.index("Delivered") < scans.index("Paris 11") < scans.index(second)
    assert scans.index(second) < scans.index("Parcel picked up") < scans.index("Lyon CTC")
    assert parcel.tracking_number in page.text
    timeline = page.text.split('class="timeline"')[1].split("</ol>")[0]
    assert timeline.count('class="done"') == 5  # requested, approved, label, in transit, delivered
    for label in steps:
        assert f'<span class="step-label">{label}</span>' in timeline
    assert timeline.split(steps[1])[0].count('class="done"') == 5  # the delivered step is done


def test_no_scans_no_tracking_section(
    client: TestClient, portal_shop: dict[str, Any], factory: Factory, settings: Settings
) -> None:
    parcel = _parcel(factory, settings, portal_shop["id"], portal_shop["slug"], method="prepaid_label")
    page = client.get(f"{parcel.link}?lang=en")
    assert page.status_code == 200
    assert "Parcel tracking" not in page.text
    assert page.text.count('class="done"') == 3


@pytest.mark.parametrize(
    ("language", "sentence", "pattern", "locale"),
    [
        (
            "en",
            "Your label expired on {}; the return was closed. Start a new return if you are still within the return window.",
            "d MMM y",
            "en_GB",
        ),
        (
            "fr",
            "Votre étiquette a expiré le {} ; le retour a été clôturé. Faites une nouvelle demande de retour si vous êtes encore dans le délai de retour.",
            "d MMM y",
            "fr_FR",
        ),
    ],
)
def test_an_expired_label_is_said_plainly(
    client: TestClient,
    portal_shop: dict[str, Any],
    factory: Factory,
    settings: Settings,
    language: str,
    sentence: str,
    pattern: str,
    locale: str,
) -> None:
    parcel = _parcel(factory, settings, portal_shop["id"], portal_shop["slug"], method="prepaid_label")
    with unit_of_work(factory) as session:
        assert tracking.expire_labels(session, parcel.merchant_id, now=clock.now() + timedelta(days=60)) == [
            parcel.shipment_id
        ]
    with unit_of_work(factory, write=False) as session:
        expires = session.get(Shipment, parcel.shipment_id).label_expires_at  # type: ignore[union-attr]
        assert session.get(ReturnRequest, parcel.return_id).status == "expired"  # type: ignore[union-attr]
    page = client.get(f"{parcel.link}?lang={language}")
    assert page.status_code == 200
    expected = sentence.format(format_datetime(expires, pattern, locale=locale))
    assert expected in page.text.replace("&#39;", "'")
    assert f'href="/s/{portal_shop["slug"]}/"' in page.text
    assert "/label.pdf" not in page.text


# ---- Moving a pickup -------------------------------------------------------------------------------


def test_the_customer_moves_the_pickup(
    client: TestClient, portal_shop: dict[str, Any], factory: Factory, settings: Settings
) -> None:
    parcel = _parcel(factory, settings, portal_shop["id"], portal_shop["slug"])
    page = client.get(f"{parcel.link}?lang=en")
    assert "Change the pickup day or time" in page.text
    offered = shipment_service.pickup_slots(clock.now().date())
    target = offered[5]  # the third working day, afternoon
    assert target.slot == "13-17"
    for day in dict.fromkeys(slot.date for slot in offered):
        assert f'<option value="{day.isoformat()}"' in page.text
    moved = client.post(
        f"{parcel.link}/shipments/{parcel.shipment_id}/pickup",
        data={"csrf_token": csrf(page.text), "pickup_date": target.date.isoformat(), "pickup_slot": "13-17"},
        follow_redirects=False,
    )
    assert moved.status_code == 303
    assert moved.headers["location"] == f"{parcel.link}?notice=pickup_rescheduled"
    shown = client.get(moved.headers["location"])
    day = format_date(target.date, "d MMMM y", locale="en_GB")
    assert f"Your pickup is moved: a courier comes on {day}, 13:00 to 17:00." in shown.text
    with unit_of_work(factory, write=False) as session:
        shipment = session.get(Shipment, parcel.shipment_id)
        assert shipment is not None
        assert (shipment.pickup_date, shipment.pickup_slot) == (target.date, "13-17")
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "shipment.pickup_rescheduled")).one()
        assert (event.actor_type, event.subject_id) == ("customer", parcel.return_id)
        assert (event.after or {})["pickup_date"] == target.date.isoformat()


@pytest.mark.parametrize(
    ("language", "day", "slot", "field", "message"),
    [
        ("en", "sunday", "09-12", "pickup_date", "Day: there are no pickups on Sundays."),
        ("fr", "sunday", "09-12", "pickup_date", "Jour : il n'y a pas d'enlèvement le dimanche."),
        ("en", "today", "09-12", "pickup_date", "Day: the pickup date must be after today."),
        ("en", "not-a-date", "09-12", "pickup_date", "Day: choose a pickup date."),
        ("en", "tomorrow", "18-20", "pickup_slot", "Time slot: choose a time slot: 09-12 or 13-17."),
        ("fr", "tomorrow", "", "pickup_slot", "Créneau : choisissez un créneau : 09-12 ou 13-17."),
    ],
)
def test_a_slot_not_offered_is_shown_back_and_changes_nothing(
    client: TestClient,
    portal_shop: dict[str, Any],
    factory: Factory,
    settings: Settings,
    language: str,
    day: str,
    slot: str,
    field: str,
    message: str,
) -> None:
    parcel = _parcel(factory, settings, portal_shop["id"], portal_shop["slug"])
    today = clock.now().date()
    days = {
        "sunday": _next_weekday(today, 6).isoformat(),
        "today": today.isoformat(),
        "tomorrow": shipment_service.pickup_slots(today)[0].date.isoformat(),
        "not-a-date": "31/12/2030",
    }
    before = _snapshot(factory, parcel.shipment_id)
    page = client.get(f"{parcel.link}?lang={language}")
    refused = client.post(
        f"{parcel.link}/shipments/{parcel.shipment_id}/pickup",
        data={"csrf_token": csrf(page.text), "pickup_date": days[day], "pickup_slot": slot},
    )
    assert refused.status_code == 422
    text = refused.text.replace("&#39;", "'")
    assert f'<div class="field-error" id="{field}-error"><p>{message}</p></div>' in text
    assert f'<li><a href="#{field}">{message}</a></li>' in text  # the summary links to the field
    assert 'aria-invalid="true"' in text
    assert '<details class="reschedule" open>' in text
    assert refused.headers["content-language"] == language
    assert _snapshot(factory, parcel.shipment_id) == before


def test_a_collected_parcel_cannot_be_moved(
    client: TestClient, portal_shop: dict[str, Any], factory: Factory, settings: Settings
) -> None:
    parcel = _parcel(factory, settings, portal_shop["id"], portal_shop["slug"])
    page = client.get(f"{parcel.link}?lang=en")
    with unit_of_work(factory) as session:
        tracking.record_scans(
            session,
            parcel.merchant_id,
            parcel.shipment_id,
            [_scan(parcel.tracking_number, "in_transit", clock.now(), "Collected", None, "c1")],
            source="api",
        )
    before = _snapshot(factory, parcel.shipment_id)
    target = shipment_service.pickup_slots(clock.now().date())[3]
    refused = client.post(
        f"{parcel.link}/shipments/{parcel.shipment_id}/pickup",
        data={"csrf_token": csrf(page.text), "pickup_date": target.date.isoformat(), "pickup_slot": target.slot},
    )
    assert refused.status_code == 409
    assert "The courier has already collected your parcel, so the pickup can no longer be moved." in refused.text
    assert "Change the pickup day or time" not in refused.text
    assert _snapshot(factory, parcel.shipment_id) == before


def test_only_this_returns_parcel_can_be_moved(
    client: TestClient, portal_shop: dict[str, Any], factory: Factory, settings: Settings
) -> None:
    """The signed link of one return cannot move the parcel of another return, nor another shop's."""
    mine = _parcel(factory, settings, portal_shop["id"], portal_shop["slug"])
    sibling = _parcel(factory, settings, portal_shop["id"], portal_shop["slug"])
    with unit_of_work(factory) as session:
        other = factories.merchant(session, slug="autre-maison")
        other_id = other.id
    foreign = _parcel(factory, settings, other_id, "autre-maison")
    page = client.get(mine.link)
    target = shipment_service.pickup_slots(clock.now().date())[3]
    form = {"csrf_token": csrf(page.text), "pickup_date": target.date.isoformat(), "pickup_slot": target.slot}
    before = {parcel.shipment_id: _snapshot(factory, parcel.shipment_id) for parcel in (mine, sibling, foreign)}
    for shipment_id in (sibling.shipment_id, foreign.shipment_id, foreign.shipment_id + 1000):
        refused = client.post(f"{mine.link}/shipments/{shipment_id}/pickup", data=form)
        assert refused.status_code == 404
    # The other shop's own link, used on this shop's portal, is not found either.
    foreign_token = foreign.link.rsplit("/", 1)[1]
    path = f"/s/{portal_shop['slug']}/r/{foreign_token}/shipments/{foreign.shipment_id}/pickup"
    assert client.post(path, data=form).status_code == 404
    assert {parcel.shipment_id: _snapshot(factory, parcel.shipment_id) for parcel in (mine, sibling, foreign)} == before


def test_moving_a_pickup_needs_the_csrf_token(
    client: TestClient, portal_shop: dict[str, Any], factory: Factory, settings: Settings
) -> None:
    parcel = _parcel(factory, settings, portal_shop["id"], portal_shop["slug"])
    client.get(parcel.link)
    before = _snapshot(factory, parcel.shipment_id)
    target = shipment_service.pickup_slots(clock.now().date())[3]
    refused = client.post(
        f"{parcel.link}/shipments/{parcel.shipment_id}/pickup",
        data={"pickup_date": target.date.isoformat(), "pickup_slot": target.slot},
    )
    assert refused.status_code == 403
    assert _snapshot(factory, parcel.shipment_id) == before
