"""The back-office return page's parcels (with their carrier scans), a home pickup moved by staff,
and the shop's carrier settings (secrets kept unless replaced, shown masked, webhook address)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from babel.dates import format_date
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from retour.kit import clock
from retour.kit.db import unit_of_work
from retour.models import AuditEvent, Merchant, OutboxMessage, Shipment
from retour.settings import Settings
from retour.shipment import service as shipment_service
from retour.shipment import tracking
from retour.shipment.carriers import TrackingEvent
from tests import factories
from tests.backoffice.conftest import add_staff, csrf_of, login
from tests.backoffice.test_views import text_of
from tests.warehouse.builders import AGENT, create_return

Factory = sessionmaker[Session]


@dataclass(frozen=True)
class Parcel:
    return_id: int
    shipment_id: int
    tracking_number: str
    pickup_date: date | None


def _parcel(factory: Factory, settings: Settings, merchant_id: int, method: str = "home_pickup") -> Parcel:
    """An approved return with one parcel (a home pickup on the first offered slot, morning)."""
    first = shipment_service.pickup_slots(clock.now().date())[0]
    pickup = method == "home_pickup"
    with unit_of_work(factory) as session:
        request = create_return(session, merchant_id, {"RING-GOLD-52": 1})
        shipment = shipment_service.create_shipment(
            session,
            merchant_id,
            request,
            method=method,
            pickup_date=first.date if pickup else None,
            pickup_slot=first.slot if pickup else None,
            actor=AGENT,
            storage_dir=settings.storage_dir,
        )
        session.flush()
        return Parcel(request.id, shipment.id, shipment.tracking_number or "", shipment.pickup_date)


def _scan(parcel: Parcel, state: str, at: datetime, text: str, where: str | None, key: str) -> TrackingEvent:
    return TrackingEvent(
        at=at,
        status=state,
        description=text,
        external_id=key,
        location=where,
        tracking_number=parcel.tracking_number,
        carrier_status=state.upper(),
    )


def _snapshot(factory: Factory, shipment_id: int) -> tuple[Any, ...]:
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


def _post(client: TestClient, page: str, path: str, data: dict[str, str]) -> Any:
    return client.post(path, data={"csrf_token": csrf_of(client.get(page).text), **data}, follow_redirects=False)


def _section(page: str, section_id: str) -> str:
    """The visible text of one ``<section id=...>`` of the page."""
    return text_of(page.split(f'id="{section_id}"', 1)[1].split(">", 1)[1].split("</section>")[0])


def _pickup_path(parcel: Parcel, shipment_id: int | None = None) -> str:
    return f"/backoffice/returns/{parcel.return_id}/shipments/{shipment_id or parcel.shipment_id}/pickup"


# ---- Parcels on the return page --------------------------------------------------------------------


def test_the_return_page_lists_its_parcels_with_their_scans(
    admin: TestClient, factory: Factory, settings: Settings, shop: dict[str, Any]
) -> None:
    parcel = _parcel(factory, settings, int(shop["id"]), method="prepaid_label")
    with unit_of_work(factory) as session:
        tracking.record_scans(
            session,
            int(shop["id"]),
            parcel.shipment_id,
            [
                _scan(
                    parcel, "in_transit", datetime(2026, 3, 5, 16, 40, tzinfo=UTC), "Pris en charge", "Lyon CTC", "a"
                ),
                _scan(parcel, "delivered", datetime(2026, 3, 6, 9, 5, tzinfo=UTC), "Livré", "Paris 11", "b"),
            ],
            source="api",
        )
    page = admin.get(f"/backoffice/returns/{parcel.return_id}?lang=en")
    assert page.status_code == 200
    section = _section(page.text, "parcels")
    assert section.startswith(
        "Parcels Parcel 1 Delivered Method Prepaid label Carrier Built-in (labels drawn by Retour)"
    )
    assert f"Tracking number {parcel.tracking_number}" in section
    assert "Label valid until" in section
    assert (
        "When Status Event Place "
        "5 Mar 2026 16:40 In transit IN_TRANSIT Pris en charge Lyon CTC "
        "6 Mar 2026 09:05 Delivered DELIVERED Livré Paris 11"
    ) in section
    assert "Move the pickup" not in section  # not a pickup
    timeline = text_of(page.text.split('id="timeline-title"')[1])
    assert "Parcel in transit" in timeline and "Parcel delivered" in timeline
    french = text_of(admin.get(f"/backoffice/returns/{parcel.return_id}?lang=fr").text)
    assert "Colis 1 Livré Mode de retour Étiquette prépayée" in french
    assert "5 mars 2026 16:40 En transit IN_TRANSIT Pris en charge Lyon CTC" in french


def test_a_return_without_a_parcel_says_so(admin: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    with unit_of_work(factory) as session:
        request = create_return(session, int(shop["id"]), {"RING-GOLD-52": 1})
        return_id = request.id
    page = admin.get(f"/backoffice/returns/{return_id}?lang=en")
    assert "No parcel yet: the label is made once the return is approved." in text_of(page.text)


# ---- Moving a pickup -------------------------------------------------------------------------------


def test_staff_move_a_pickup(admin: TestClient, factory: Factory, settings: Settings, shop: dict[str, Any]) -> None:
    parcel = _parcel(factory, settings, int(shop["id"]))
    page = admin.get(f"/backoffice/returns/{parcel.return_id}?lang=en")
    section = _section(page.text, "parcels")
    assert parcel.pickup_date is not None
    assert f"Pickup {format_date(parcel.pickup_date, 'd MMMM y', locale='en_GB')}, 9:00 to 12:00" in section
    assert "Move the pickup" in section
    target = shipment_service.pickup_slots(clock.now().date())[5]
    moved = _post(
        admin,
        f"/backoffice/returns/{parcel.return_id}",
        _pickup_path(parcel),
        {"pickup_date": target.date.isoformat(), "pickup_slot": target.slot},
    )
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/backoffice/returns/{parcel.return_id}#parcel-{parcel.shipment_id}"
    shown = text_of(admin.get(moved.headers["location"]).text)
    assert f"Pickup moved to {format_date(target.date, 'd MMMM y', locale='en_GB')}, 13:00 to 17:00." in shown
    assert "Pickup moved by Admin Martin" in shown  # on the timeline
    with unit_of_work(factory, write=False) as session:
        shipment = session.get(Shipment, parcel.shipment_id)
        assert shipment is not None
        assert (shipment.pickup_date, shipment.pickup_slot) == (target.date, "13-17")
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "shipment.pickup_rescheduled")).one()
        assert (event.actor_type, event.actor_label) == ("staff", "Admin Martin")


def _next_sunday(today: date) -> date:
    return today + timedelta(days=6 - today.weekday() or 7)


@pytest.mark.parametrize(
    ("language", "slot", "message"),
    [
        ("en", "09-12", "The pickup was not moved: there are no pickups on Sundays."),
        ("fr", "09-12", "L'enlèvement n'a pas été déplacé : il n'y a pas d'enlèvement le dimanche."),
    ],
)
def test_a_slot_not_offered_is_shown_and_nothing_changes(
    admin: TestClient,
    factory: Factory,
    settings: Settings,
    shop: dict[str, Any],
    language: str,
    slot: str,
    message: str,
) -> None:
    parcel = _parcel(factory, settings, int(shop["id"]))
    before = _snapshot(factory, parcel.shipment_id)
    sunday = _next_sunday(clock.now().date())
    refused = _post(
        admin,
        f"/backoffice/returns/{parcel.return_id}?lang={language}",
        _pickup_path(parcel),
        {"pickup_date": sunday.isoformat(), "pickup_slot": slot},
    )
    assert refused.status_code == 422
    assert f'<p class="alert" role="alert" id="pickup-{parcel.shipment_id}-error">' in refused.text
    assert message in text_of(refused.text)
    assert 'name="pickup_date" aria-invalid="true"' in refused.text
    assert _snapshot(factory, parcel.shipment_id) == before


def test_a_collected_parcel_cannot_be_moved(
    admin: TestClient, factory: Factory, settings: Settings, shop: dict[str, Any]
) -> None:
    parcel = _parcel(factory, settings, int(shop["id"]))
    page = f"/backoffice/returns/{parcel.return_id}?lang=en"
    token = csrf_of(admin.get(page).text)
    with unit_of_work(factory) as session:
        tracking.record_scans(
            session,
            int(shop["id"]),
            parcel.shipment_id,
            [_scan(parcel, "in_transit", clock.now(), "Collected", None, "c")],
            source="api",
        )
    before = _snapshot(factory, parcel.shipment_id)
    target = shipment_service.pickup_slots(clock.now().date())[3]
    refused = admin.post(
        _pickup_path(parcel),
        data={"csrf_token": token, "pickup_date": target.date.isoformat(), "pickup_slot": target.slot},
    )
    assert refused.status_code == 409
    assert "The pickup was not moved: the parcel has already been collected." in text_of(refused.text)
    assert "Move the pickup" not in text_of(refused.text)
    assert _snapshot(factory, parcel.shipment_id) == before


def test_only_this_returns_parcel_and_only_deciders(
    client: TestClient, admin: TestClient, factory: Factory, settings: Settings, shop: dict[str, Any]
) -> None:
    mine = _parcel(factory, settings, int(shop["id"]))
    sibling = _parcel(factory, settings, int(shop["id"]))
    with unit_of_work(factory) as session:
        other_id = factories.merchant(session, slug="autre-boutique").id
    foreign = _parcel(factory, settings, other_id)
    target = shipment_service.pickup_slots(clock.now().date())[3]
    form = {"pickup_date": target.date.isoformat(), "pickup_slot": target.slot}
    page = f"/backoffice/returns/{mine.return_id}"
    before = {parcel.shipment_id: _snapshot(factory, parcel.shipment_id) for parcel in (mine, sibling, foreign)}
    for path in (
        _pickup_path(mine, sibling.shipment_id),  # another return's parcel
        _pickup_path(mine, foreign.shipment_id),  # another shop's
        _pickup_path(foreign),  # another shop's return and parcel
    ):
        assert _post(admin, page, path, form).status_code == 404
    # A warehouse role sees the parcels but cannot move a pickup.
    warehouse = add_staff(factory, int(shop["id"]), "warehouse")
    admin.cookies.clear()
    assert login(client, warehouse).status_code == 303
    assert "Move the pickup" not in client.get(f"{page}?lang=en").text
    assert _post(client, page, _pickup_path(mine), form).status_code == 403
    assert {parcel.shipment_id: _snapshot(factory, parcel.shipment_id) for parcel in (mine, sibling, foreign)} == before


# ---- Carrier settings ------------------------------------------------------------------------------


def _carrier_of(factory: Factory, merchant_id: int) -> Any:
    with unit_of_work(factory, write=False) as session:
        merchant = session.get(Merchant, merchant_id)
        assert merchant is not None
        changes = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "merchant.carrier_changed")
        )
        return (merchant.settings or {}).get("carrier"), changes


def test_the_carrier_is_saved_and_its_secrets_kept(admin: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    page = admin.get("/backoffice/settings?lang=en")
    carrier = _section(page.text, "carrier")
    assert carrier.startswith("Carrier Who makes the return labels")
    assert "Carrier Built-in (labels drawn by Retour)" in carrier
    assert 'name="api_key" autocomplete="off"' in page.text and 'type="password" name="webhook_secret"' in page.text
    saved = _post(
        admin,
        "/backoffice/settings",
        "/backoffice/settings/carrier",
        {
            "provider": "shippo",
            "api_key": "shippo_live_abcd1234",
            "webhook_secret": "tok-secret-5678",
            "preferred_service": "colissimo_home",
            "tracking_carrier": "",
        },
    )
    assert saved.status_code == 303
    assert saved.headers["location"] == "/backoffice/settings#carrier"
    shown = admin.get("/backoffice/settings?lang=en").text
    assert "The carrier settings are saved." in shown
    assert "shippo_live_abcd1234" not in shown and "tok-secret-5678" not in shown
    carrier = _section(shown, "carrier")
    assert "Carrier Shippo API key …1234 Webhook secret …5678 Preferred service colissimo_home" in carrier
    url = f"http://testserver/webhooks/carriers/shippo/{shop['slug']}"
    assert f'<code class="webhook-url">{url}?token=<var>webhook-secret</var></code>' in shown
    assert "Leave empty to keep the current Shippo key (…1234)." in carrier
    # Saved again with the secrets left empty: they are kept.
    again = _post(
        admin,
        "/backoffice/settings",
        "/backoffice/settings/carrier",
        {
            "provider": "shippo",
            "api_key": "",
            "webhook_secret": "",
            "preferred_service": "",
            "tracking_carrier": "usps",
        },
    )
    assert again.status_code == 303
    stored, changes = _carrier_of(factory, int(shop["id"]))
    assert stored == {
        "provider": "shippo",
        "api_key": "shippo_live_abcd1234",
        "webhook_secret": "tok-secret-5678",
        "preferred_service": "",
        "tracking_carrier": "usps",
    }
    assert changes == 2
    with unit_of_work(factory, write=False) as session:
        event = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "merchant.carrier_changed").order_by(AuditEvent.id)
        ).first()
        assert event is not None
        assert (event.after or {})["api_key"] == "…1234"  # the audit trail holds no secret


@pytest.mark.parametrize(
    ("language", "message"),
    [
        ("en", "API key: this carrier needs your account's API key."),
        ("fr", "Clé d'API : ce transporteur a besoin de la clé d'API de votre compte."),
    ],
)
def test_a_carrier_without_its_key_is_refused_and_nothing_changes(
    admin: TestClient, factory: Factory, shop: dict[str, Any], language: str, message: str
) -> None:
    _post(
        admin,
        "/backoffice/settings",
        "/backoffice/settings/carrier",
        {"provider": "shippo", "api_key": "shippo_live_abcd1234", "webhook_secret": "tok-secret-5678"},
    )
    before = _carrier_of(factory, int(shop["id"]))
    # Another carrier does not inherit Shippo's key.
    refused = _post(
        admin,
        f"/backoffice/settings?lang={language}",
        "/backoffice/settings/carrier",
        {"provider": "easypost", "api_key": "", "webhook_secret": "whsec-new", "preferred_service": "Priority"},
    )
    assert refused.status_code == 422
    assert f'<p class="alert" role="alert" id="carrier-error">{message}</p>' in refused.text.replace("&#39;", "'")
    assert 'name="api_key" autocomplete="off" spellcheck="false" maxlength="500" aria-invalid="true"' in refused.text
    assert '<option value="easypost" selected>' in refused.text
    assert 'value="Priority"' in refused.text
    assert "whsec-new" not in refused.text  # a secret typed is never sent back
    assert _carrier_of(factory, int(shop["id"])) == before


def test_an_agent_sees_the_carrier_but_cannot_change_it(
    client: TestClient, factory: Factory, shop: dict[str, Any]
) -> None:
    agent = add_staff(factory, int(shop["id"]), "agent")
    assert login(client, agent).status_code == 303
    page = client.get("/backoffice/settings?lang=en")
    assert 'id="carrier"' in page.text
    assert 'action="/backoffice/settings/carrier"' not in page.text
    before = _carrier_of(factory, int(shop["id"]))
    refused = _post(
        client, "/backoffice/settings", "/backoffice/settings/carrier", {"provider": "easypost", "api_key": "ek_1"}
    )
    assert refused.status_code == 403
    assert _carrier_of(factory, int(shop["id"])) == before


def test_ids_too_large_for_a_row_are_refused_not_crashed(admin: TestClient) -> None:
    huge = 2**64
    for url in (f"/backoffice/returns/{huge}", f"/backoffice/warehouse/units/{huge}"):
        assert admin.get(url).status_code == 422, url
