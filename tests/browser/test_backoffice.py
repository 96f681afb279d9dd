"""The back-office in Chromium: sign in, find the return that needs a review, approve it, and see
the status and the timeline change."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.db import make_session_factory, unit_of_work
from tests import factories
from tests.backoffice.conftest import add_staff, make_return, review_policy
from tests.browser.conftest import new_page, screenshot
from tests.factories import STAFF_PASSWORD


def new_shop(factory: sessionmaker[Session]) -> int:
    with unit_of_work(factory) as session:
        return factories.merchant(session, name="Maison Lune").id


def test_an_agent_approves_a_return_that_needs_review(live_server: str, browser: Any, sqlite_engine: Engine) -> None:
    from playwright.sync_api import expect

    factory = make_session_factory(sqlite_engine)
    merchant_id = new_shop(factory)
    approved = make_return(factory, merchant_id, line=1)  # the necklace: approved by the policy
    review_policy(factory, merchant_id)
    waiting = make_return(factory, merchant_id)  # the ring: high value, waits for a review
    email = add_staff(factory, merchant_id, "agent", language="en")

    page = new_page(browser)
    page.goto(f"{live_server}/backoffice/returns")
    expect(page.get_by_role("heading", name="Sign in to the back-office")).to_be_visible()
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    expect(page.get_by_role("heading", name="Returns")).to_be_visible()
    rows = page.locator("#returns-results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text(waiting["number"])
    expect(rows.first).to_contain_text("Needs review")
    expect(rows.nth(1)).to_contain_text(approved["number"])
    screenshot(page, "backoffice-returns")

    # The filter form is enhanced by htmx: only the table is replaced, and the URL follows.
    page.get_by_label("Needs review only").check()
    expect(rows).to_have_count(1)
    expect(page).to_have_url(re.compile(r"/backoffice/returns\?.*review=1"))

    page.get_by_role("link", name=waiting["number"]).click()
    expect(page.get_by_role("heading", name=f"Return {waiting['number']}")).to_be_visible()
    expect(page.locator(".review")).to_contain_text("High value: reviewed by our team before approval.")
    expect(page.locator(".quote")).to_contain_text("€129.00")
    screenshot(page, "backoffice-return-needs-review")

    page.get_by_label("Note (optional, kept in the timeline)").fill("Checked the photos with the customer")
    page.get_by_role("button", name="Approve").click()

    expect(page.get_by_role("status")).to_have_text(f"Return {waiting['number']} approved.")
    expect(page.locator(".page-head .badge").first).to_have_text("Approved")
    timeline = page.locator(".timeline li")
    expect(timeline).to_have_count(2)
    expect(timeline.nth(1)).to_contain_text("Approved")
    expect(timeline.nth(1)).to_contain_text("by Agent Martin")
    expect(timeline.nth(1)).to_contain_text("Checked the photos with the customer")
    expect(page.get_by_role("button", name="Approve")).to_have_count(0)
    screenshot(page, "backoffice-return-approved")
    page.context.close()


def test_the_settings_on_a_tablet_in_french(live_server: str, browser: Any, sqlite_engine: Engine) -> None:
    from playwright.sync_api import expect

    factory = make_session_factory(sqlite_engine)
    merchant_id = new_shop(factory)
    email = add_staff(factory, merchant_id, "admin", language="fr")

    page = new_page(browser, width=820, height=1180, locale="fr-FR", mobile=True)
    page.goto(f"{live_server}/backoffice/login")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Mot de passe").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.get_by_role("link", name="Réglages").click()
    expect(page.get_by_role("heading", name="Politique de retour version 1")).to_be_visible()
    expect(page.locator(".sentences")).to_contain_text("Retour possible pendant 30 jours après la livraison.")

    page.get_by_label("Nom", exact=True).fill("Connecteur Shopify")
    page.get_by_label("Écriture").check()
    page.get_by_role("button", name="Créer la clé").click()
    expect(page.get_by_role("heading", name="Clé d'API créée")).to_be_visible()
    expect(page.locator("#new-api-key")).to_have_value(re.compile(r"^rtr_\w+_[\w-]+$"))
    screenshot(page, "backoffice-api-key-created-tablet")
    page.get_by_role("link", name="Retour aux réglages").click()
    expect(page.locator("#api-keys tbody tr").first).to_contain_text("Connecteur Shopify")
    screenshot(page, "backoffice-settings-tablet")
    page.context.close()
