"""P8: the policy page, generated from the active rules, in French and English."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.actor import Actor
from retour.kit.db import unit_of_work
from retour.policy import service as policy_service
from retour.policy.defaults import DEFAULT_POLICY


def test_policy_page_in_both_languages(client: TestClient, portal_shop: dict[str, Any]) -> None:
    english = client.get(f"/s/{portal_shop['slug']}/policy", headers={"Accept-Language": "en-US"})
    assert english.status_code == 200
    assert '<html lang="en">' in english.text
    assert "Returnable for 30 days from delivery" in english.text
    assert "offered: refund to the original payment, store credit or exchange" in english.text
    assert "Final sale: Final-sale items (such as engraved or personalised pieces) cannot be returned." in english.text
    assert "Our mistake: photos required; no fees." in english.text
    assert "When: reason: Arrived damaged, Defective or Wrong item sent." in english.text
    assert "Arrived damaged (photos needed)" in english.text
    french = client.get(f"/s/{portal_shop['slug']}/policy?lang=fr")
    assert '<html lang="fr">' in french.text
    assert "Retour possible pendant 30 jours après la livraison" in french.text
    assert "Vente définitive : Les articles en vente définitive" in french.text
    assert "Notre erreur : photos obligatoires" in french.text
    assert "Quand : motif : Arrivé endommagé, Défectueux ou Mauvais article reçu." in french.text
    # The choice sticks, whatever the browser says.
    again = client.get(f"/s/{portal_shop['slug']}/policy", headers={"Accept-Language": "en"})
    assert '<html lang="fr">' in again.text


def test_policy_page_follows_the_published_version(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    raw = {
        **DEFAULT_POLICY,
        "defaults": {**DEFAULT_POLICY["defaults"], "window_days": 60, "bonus_credit_percent": "10"},
    }
    with unit_of_work(factory) as session:
        policy_service.publish(session, merchant_id=portal_shop["id"], raw=raw, actor=Actor.system("tests"))
    page = client.get(f"/s/{portal_shop['slug']}/policy", headers={"Accept-Language": "en"})
    assert "Returnable for 60 days from delivery" in page.text
    assert "10% bonus on store credit" in page.text
    assert "Policy version 2." in page.text


def test_every_portal_page_links_the_policy(client: TestClient, portal_shop: dict[str, Any]) -> None:
    for path in ("/", "/policy", "/r/not-a-token"):
        page = client.get(f"/s/{portal_shop['slug']}{path}")
        assert f'href="/s/{portal_shop["slug"]}/policy"' in page.text
