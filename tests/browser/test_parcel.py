"""A home pickup moved from the status page on a phone, with JavaScript off: the carrier's first
scan shows, a Sunday is refused on its field, another day is taken. Screenshots in
test-artifacts/."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from babel.dates import format_date
from sqlalchemy import Engine

from retour.kit import clock
from retour.kit.db import make_session_factory, unit_of_work
from retour.models import Shipment
from retour.portal import status
from retour.shipment import service as shipment_service
from retour.shipment import tracking
from retour.shipment.carriers import TrackingEvent
from tests import factories
from tests.browser.conftest import new_page, screenshot
from tests.warehouse.builders import AGENT, create_return

pytestmark = pytest.mark.browser
SECRET = "browser-test-secret-key-0123456789abcdef"  # the live server's


def _fits(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_a_pickup_moved_on_a_phone_without_javascript(
    live_server: str, browser: Any, sqlite_engine: Engine, tmp_path: Path
) -> None:
    factory = make_session_factory(sqlite_engine)
    offered = shipment_service.pickup_slots(clock.now().date())
    with unit_of_work(factory) as session:
        merchant = factories.merchant(session, slug="maison-lune", name="Maison Lune")
        request = create_return(session, merchant.id, {"RING-GOLD-52": 1})
        shipment = shipment_service.create_shipment(
            session,
            merchant.id,
            request,
            method="home_pickup",
            pickup_date=offered[0].date,
            pickup_slot=offered[0].slot,
            actor=AGENT,
            storage_dir=tmp_path / "storage",  # the live server's
        )
        session.flush()
        tracking.record_scans(
            session,
            merchant.id,
            shipment.id,
            [
                TrackingEvent(
                    at=datetime(2026, 3, 5, 8, 15, tzinfo=UTC),
                    status="pre_transit",
                    description="Étiquette créée, en attente du colis",
                    external_id="pre-1",
                    location="Plateforme Colis Lyon Saint-Priest – quai 12",
                )
            ],
            source="api",
        )
        link = f"{live_server}/s/maison-lune/r/{status.status_token(SECRET, merchant.id, request.id)}"
        shipment_id = shipment.id
    # A Sunday is never offered; one sent anyway (an old page, a crafted form) is refused on its field.
    phone = new_page(browser, width=360, height=740, locale="fr-FR", mobile=True)
    phone.goto(link)
    phone.get_by_text("Changer le jour ou le créneau de l'enlèvement").click()
    today = clock.now().date()
    sunday = today + timedelta(days=(6 - today.weekday()) or 7)
    phone.evaluate(
        "(day) => { const s = document.getElementById('pickup_date'); s.add(new Option(day, day)); s.value = day; }",
        sunday.isoformat(),
    )
    phone.get_by_role("button", name="Déplacer l'enlèvement").click()
    error = phone.locator("#pickup_date-error")
    error.wait_for()
    assert error.inner_text() == "Jour : il n'y a pas d'enlèvement le dimanche."
    assert phone.locator("#pickup_date").get_attribute("aria-invalid") == "true"
    assert phone.get_by_role("link", name="Jour : il n'y a pas d'enlèvement le dimanche.").is_visible()
    _fits(phone)
    screenshot(phone, "portal-phone-fr-pickup-1-refused")
    phone.context.close()

    # The customer then moves it for real, with JavaScript off.
    context = browser.new_context(
        java_script_enabled=False, locale="fr-FR", viewport={"width": 360, "height": 740}, is_mobile=True
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(link)
    page.get_by_role("heading", name="Suivi du colis").wait_for()
    assert "Plateforme Colis Lyon Saint-Priest" in page.locator(".scans").inner_text()
    _fits(page)
    page.get_by_text("Changer le jour ou le créneau de l'enlèvement").click()
    target = offered[5]
    page.get_by_label("Jour", exact=True).select_option(target.date.isoformat())
    page.get_by_label("de 13 h à 17 h").check()
    _fits(page)
    screenshot(page, "portal-phone-fr-pickup-2-form")
    page.get_by_role("button", name="Déplacer l'enlèvement").click()
    day = format_date(target.date, "d MMMM y", locale="fr_FR")
    page.get_by_text(f"Votre enlèvement est déplacé : un coursier passe le {day}, de 13 h à 17 h.").wait_for()
    _fits(page)
    screenshot(page, "portal-phone-fr-pickup-3-moved")
    with unit_of_work(factory, write=False) as session:
        moved = session.get(Shipment, shipment_id)
        assert moved is not None
        assert (moved.pickup_date, moved.pickup_slot) == (target.date, "13-17")
    context.close()
