"""The back-office through HTTP: sign-in, roles, CSRF, decisions, languages, API keys and policy."""

from __future__ import annotations

import html
import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy.orm import Session, sessionmaker

from retour.backoffice import return_views
from retour.kit.db import unit_of_work
from retour.merchant import service as merchant_service
from retour.policy import service as policy_service
from tests import factories
from tests.backoffice.conftest import (
    add_staff,
    csrf_of,
    login,
    make_return,
    return_state,
    review_policy,
)

Factory = sessionmaker[Session]


def text_of(page: str) -> str:
    """The visible text of a page, whitespace collapsed (to assert on sentences)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def post_form(client: TestClient, path: str, data: dict[str, Any] | None = None, *, page: str) -> Any:
    """Post like the browser would: with the CSRF token of the page the form is on."""
    token = csrf_of(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **(data or {})}, follow_redirects=False)


# ---- Sign-in ---------------------------------------------------------------------------------------


def test_pages_send_to_the_login_page_when_signed_out(client: TestClient) -> None:
    response = client.get("/backoffice/returns?status=requested", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/backoffice/login?next=/backoffice/returns"
    assert client.get("/backoffice/", follow_redirects=False).headers["location"] == "/backoffice/returns"


def test_login_then_the_returns_list(client: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    email = add_staff(factory, int(shop["id"]), "agent")
    response = login(client, email.upper(), next="/backoffice/settings")
    assert response.status_code == 303
    assert response.headers["location"] == "/backoffice/settings"
    page = client.get("/backoffice/returns")
    assert page.status_code == 200
    assert "Agent Martin" in page.text
    assert "<h1>Retours</h1>" in page.text


def test_login_rotates_the_csrf_token(client: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    email = add_staff(factory, int(shop["id"]), "admin")
    before = csrf_of(client.get("/backoffice/login").text)
    login(client, email)
    after = csrf_of(client.get("/backoffice/returns").text)
    assert after != before


@pytest.mark.parametrize(("email", "password"), [("admin-1@maison.test", "wrong password!"), ("nobody@x.fr", None)])
def test_wrong_credentials_get_one_generic_message_and_no_session(
    client: TestClient, factory: Factory, shop: dict[str, Any], email: str, password: str | None
) -> None:
    add_staff(factory, int(shop["id"]), "admin", email="admin-1@maison.test")
    response = login(client, email, password or factories.STAFF_PASSWORD)
    assert response.status_code == 401
    assert "E-mail ou mot de passe incorrect." in response.text
    assert f'value="{email}"' in response.text
    assert client.get("/backoffice/returns", follow_redirects=False).status_code == 303


def test_an_over_long_email_is_just_a_wrong_login(client: TestClient) -> None:
    response = login(client, "x" * 5000 + "@maison.test")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert "E-mail ou mot de passe incorrect." in response.text


def test_login_is_refused_without_the_csrf_token(client: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    email = add_staff(factory, int(shop["id"]), "admin")
    client.get("/backoffice/login")
    response = client.post("/backoffice/login", data={"email": email, "password": factories.STAFF_PASSWORD})
    assert response.status_code == 403
    assert client.get("/backoffice/returns", follow_redirects=False).status_code == 303


def test_an_email_in_two_shops_asks_for_the_shop(client: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    with unit_of_work(factory) as session:
        other = factories.merchant(session, slug="autre-boutique")
        other_id = other.id
    add_staff(factory, int(shop["id"]), "admin", email="same@maison.test")
    add_staff(factory, other_id, "agent", email="same@maison.test")
    assert login(client, "same@maison.test").status_code == 401
    response = login(client, "same@maison.test", shop="autre-boutique")
    assert response.status_code == 303
    assert "Agent Martin" in client.get("/backoffice/returns").text


def test_logout_ends_the_session(admin: TestClient) -> None:
    response = post_form(admin, "/backoffice/logout", page="/backoffice/returns")
    assert response.status_code == 303
    assert response.headers["location"] == "/backoffice/login"
    assert "Vous êtes déconnecté." in admin.get("/backoffice/login").text
    assert admin.get("/backoffice/returns", follow_redirects=False).status_code == 303


# ---- Returns list ----------------------------------------------------------------------------------


def test_the_list_in_french_and_in_english(client: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    review_policy(factory, int(shop["id"]))
    made = make_return(factory, int(shop["id"]))
    login(client, add_staff(factory, int(shop["id"]), "agent", language="fr"))
    french = text_of(client.get("/backoffice/returns").text)
    assert "Retours" in french
    assert f"{made['number']} " in french
    assert "Demandé 1" in french  # the status tab with its count
    assert "Demandé À examiner Remboursement 129,00 €" in french
    english = text_of(client.get("/backoffice/returns?lang=en").text)
    assert "Requested 1" in english
    assert "Requested Needs review Refund €129.00" in english
    # The choice is remembered for the next pages.
    assert "Estimated refund" in client.get("/backoffice/returns").text


def test_the_login_page_follows_the_browser_language(client: TestClient) -> None:
    assert "Sign in to the back-office" in client.get("/backoffice/login", headers={"Accept-Language": "en-GB"}).text
    assert "Connexion à l'espace marchand" in client.get("/backoffice/login", headers={"Accept-Language": "fr"}).text


def test_filters_search_and_counts(admin: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    merchant_id = int(shop["id"])
    approved = make_return(factory, merchant_id, line=1)
    review_policy(factory, merchant_id)
    waiting = make_return(factory, merchant_id)
    assert (approved["status"], waiting["status"]) == ("approved", "requested")

    def numbers(query: str) -> list[str]:
        return re.findall(r'class="rma">(R-\d+)<', admin.get(f"/backoffice/returns{query}").text)

    assert numbers("") == [waiting["number"], approved["number"]]
    assert numbers("?status=approved") == [approved["number"]]
    assert numbers("?review=1") == [waiting["number"]]
    assert numbers(f"?q={waiting['number'].lower()}") == [waiting["number"]]
    assert numbers(f"?q={approved['email']}") == [approved["number"]]
    assert numbers("?q=camille") == [waiting["number"], approved["number"]]
    assert numbers("?date_from=2000-01-01&date_to=2000-12-31") == []
    tabs = text_of(admin.get("/backoffice/returns").text)
    assert "Tous 2 Demandé 1 Approuvé 1 En cours 0" in tabs
    assert admin.get("/backoffice/returns?date_from=yesterday").status_code == 422


def test_older_pages_follow_the_cursor(
    admin: TestClient, factory: Factory, shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(return_views, "PAGE_SIZE", 2)
    made = [make_return(factory, int(shop["id"]), line=1)["number"] for _ in range(3)]
    first = admin.get("/backoffice/returns?status=approved").text
    assert re.findall(r'class="rma">(R-\d+)<', first) == [made[2], made[1]]
    older = html.unescape(re.search(r'<a href="([^"]+)" rel="next">', first).group(1))  # type: ignore[union-attr]
    assert older.startswith("/backoffice/returns?status=approved&cursor=")
    second = admin.get(older).text
    assert re.findall(r'class="rma">(R-\d+)<', second) == [made[0]]
    assert 'rel="next"' not in second


def test_htmx_gets_only_the_table(admin: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    make_return(factory, int(shop["id"]), line=1)
    response = admin.get("/backoffice/returns?q=R-000001", headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="returns-results">')
    assert "<html" not in response.text
    assert "R-000001" in response.text
    assert "HX-Request" in response.headers["vary"]


# ---- One return and its decisions ------------------------------------------------------------------


def test_the_return_page_shows_lines_quote_and_timeline(
    admin: TestClient, factory: Factory, shop: dict[str, Any]
) -> None:
    review_policy(factory, int(shop["id"]))
    made = make_return(factory, int(shop["id"]))
    page = text_of(admin.get(f"/backoffice/returns/{made['id']}?lang=en").text)
    assert f"Return {made['number']} Requested Needs review" in page
    assert f"Order {made['order_number']} Customer {made['email']}" in page
    assert "Resolution Refund Method Prepaid label Channel API Policy version 2" in page
    assert "High value: reviewed by our team before approval." in page
    assert "RING-GOLD-52 Bague Lune or 52 Too small 1 0 0 0 €129.00" in page
    assert "Items (price paid) €129.00 Restocking fee − €0.00 Return shipping fee − €0.00" in page
    assert "Total €129.00" in page
    assert "Return requested by tests" in page
    assert "Approve Reject Cancel the return" in page


@pytest.mark.parametrize(
    ("action", "status", "flash"),
    [
        ("approve", "approved", "Retour R-000001 approuvé."),
        ("reject", "rejected", "Retour R-000001 refusé."),
        ("cancel", "cancelled", "Retour R-000001 annulé."),
    ],
)
def test_decisions_change_the_status_and_the_timeline(
    admin: TestClient, factory: Factory, shop: dict[str, Any], action: str, status: str, flash: str
) -> None:
    review_policy(factory, int(shop["id"]))
    made = make_return(factory, int(shop["id"]))
    page = f"/backoffice/returns/{made['id']}"
    response = post_form(admin, f"{page}/{action}", {"note": "Vu avec la cliente"}, page=page)
    assert response.status_code == 303
    assert response.headers["location"] == page
    assert return_state(factory, int(shop["id"]), made["id"]) == (status, ["return.requested", f"return.{status}"])
    shown = text_of(admin.get(page).text)
    assert flash in shown
    assert "par Admin Martin “Vu avec la cliente”" in shown
    assert flash not in admin.get(page).text  # shown once


def test_a_decision_without_the_csrf_token_is_refused(
    admin: TestClient, factory: Factory, shop: dict[str, Any]
) -> None:
    review_policy(factory, int(shop["id"]))
    made = make_return(factory, int(shop["id"]))
    for data in ({}, {"csrf_token": "forged"}):
        response = admin.post(f"/backoffice/returns/{made['id']}/approve", data=data)
        assert response.status_code == 403
        assert "Le formulaire a expiré ou ne vient pas de ce site." in response.text
    assert return_state(factory, int(shop["id"]), made["id"]) == ("requested", ["return.requested"])


def test_the_warehouse_sees_returns_but_cannot_decide(
    client: TestClient, factory: Factory, shop: dict[str, Any]
) -> None:
    review_policy(factory, int(shop["id"]))
    made = make_return(factory, int(shop["id"]))
    login(client, add_staff(factory, int(shop["id"]), "warehouse"))
    page = f"/backoffice/returns/{made['id']}"
    shown = client.get(page).text
    assert "Votre rôle vous permet de consulter ce retour, pas de décider." in shown
    assert "/approve" not in shown
    response = post_form(client, f"{page}/approve", page=page)
    assert response.status_code == 403
    assert "Votre rôle ne permet pas cette action." in response.text
    assert return_state(factory, int(shop["id"]), made["id"]) == ("requested", ["return.requested"])
    assert client.get("/backoffice/settings").status_code == 403
    assert 'href="/backoffice/settings"' not in shown


def test_approving_an_approved_return_is_a_409_page(admin: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    made = make_return(factory, int(shop["id"]), line=1)
    assert made["status"] == "approved"
    page = f"/backoffice/returns/{made['id']}"
    response = post_form(admin, f"{page}/approve?lang=en", page=page)
    assert response.status_code == 409
    assert "This action is not possible: the return's status is “Approved”." in text_of(response.text)
    assert f'href="{page}"' in response.text
    assert return_state(factory, int(shop["id"]), made["id"]) == ("approved", ["return.requested", "return.approved"])


def test_another_shops_return_is_not_found(admin: TestClient, factory: Factory) -> None:
    with unit_of_work(factory) as session:
        other_id = factories.merchant(session).id
    review_policy(factory, other_id)
    theirs = make_return(factory, other_id)
    page = f"/backoffice/returns/{theirs['id']}"
    response = admin.get(page)
    assert response.status_code == 404
    assert "Cette page n'existe pas, ou vous n'y avez pas accès." in text_of(response.text)
    assert theirs["number"] not in response.text
    assert post_form(admin, f"{page}/approve", page="/backoffice/returns").status_code == 404
    assert return_state(factory, other_id, theirs["id"]) == ("requested", ["return.requested"])
    assert admin.get("/backoffice/returns/12345678").status_code == 404


def test_an_unknown_action_is_not_found(admin: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    made = make_return(factory, int(shop["id"]), line=1)
    page = f"/backoffice/returns/{made['id']}"
    assert post_form(admin, f"{page}/destroy", page=page).status_code == 404
    assert return_state(factory, int(shop["id"]), made["id"]) == ("approved", ["return.requested", "return.approved"])


# ---- Settings: API keys and the policy -------------------------------------------------------------


def test_an_api_key_is_shown_once_works_and_can_be_revoked(
    admin: TestClient, factory: Factory, shop: dict[str, Any]
) -> None:
    response = post_form(
        admin, "/backoffice/settings/api-keys", {"name": "Connecteur", "scopes": ["read"]}, page="/backoffice/settings"
    )
    assert response.status_code == 200
    token = re.search(r'value="(rtr_[^"]+)"', response.text).group(1)  # type: ignore[union-attr]
    assert "Copiez cette clé maintenant" in response.text
    reasons = admin.get("/api/v1/reasons", headers={"Authorization": f"Bearer {token}"})
    assert reasons.status_code == 200
    settings = admin.get("/backoffice/settings").text
    assert token not in settings
    prefix = token.split("_")[1]
    assert f"rtr_{prefix}_…" in settings
    with unit_of_work(factory, write=False) as session:
        key = next(k for k in merchant_service.list_api_keys(session, int(shop["id"])) if k.name == "Connecteur")
        assert key.scopes == ["read"]
    revoked = post_form(admin, f"/backoffice/settings/api-keys/{key.id}/revoke", page="/backoffice/settings")
    assert revoked.status_code == 303
    assert "La clé « Connecteur » est révoquée" in admin.get("/backoffice/settings").text
    assert admin.get("/api/v1/reasons", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_a_key_needs_a_scope(admin: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    response = post_form(admin, "/backoffice/settings/api-keys", {"name": "Sans droit"}, page="/backoffice/settings")
    assert response.status_code == 422
    assert "Choisissez au moins un droit." in response.text
    with unit_of_work(factory, write=False) as session:
        assert [k.name for k in merchant_service.list_api_keys(session, int(shop["id"]))] == ["tests"]


def test_a_key_name_of_more_than_200_characters_is_refused_on_the_page(
    admin: TestClient, factory: Factory, shop: dict[str, Any]
) -> None:
    data = {"name": "k" * 201, "scopes": ["read"]}
    response = post_form(admin, "/backoffice/settings/api-keys", data, page="/backoffice/settings")
    assert response.status_code == 422
    assert "Le nom est trop long (200 caractères au plus)." in response.text
    with unit_of_work(factory, write=False) as session:
        assert [k.name for k in merchant_service.list_api_keys(session, int(shop["id"]))] == ["tests"]


def test_agents_read_the_settings_but_cannot_change_them(
    client: TestClient, factory: Factory, shop: dict[str, Any]
) -> None:
    login(client, add_staff(factory, int(shop["id"]), "agent"))
    page = client.get("/backoffice/settings")
    assert page.status_code == 200
    assert "Seul un administrateur peut modifier ces réglages." in page.text
    assert 'action="/backoffice/settings/api-keys"' not in page.text
    created = post_form(
        client, "/backoffice/settings/api-keys", {"name": "x", "scopes": ["read"]}, page="/backoffice/settings"
    )
    assert created.status_code == 403
    with unit_of_work(factory, write=False) as session:
        keys = merchant_service.list_api_keys(session, int(shop["id"]))
    assert [k.name for k in keys] == ["tests"]
    revoke = post_form(client, f"/backoffice/settings/api-keys/{keys[0].id}/revoke", page="/backoffice/settings")
    assert revoke.status_code == 403
    assert client.get("/api/v1/reasons", headers=shop["headers"]).status_code == 200


def test_the_policy_is_shown_as_sentences(admin: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    french = text_of(admin.get("/backoffice/settings").text)
    assert "Politique de retour version 1" in french
    assert "Retour possible pendant 30 jours après la livraison." in french
    assert "Vente définitive final-sale Quand articles en vente définitive Alors Les articles en vente" in french
    assert "Quand motif : Arrivé endommagé, Défectueux, Mauvais article reçu Alors Photos obligatoires" in french
    english = text_of(admin.get("/backoffice/settings?lang=en").text)
    assert "Returnable for 30 days from delivery." in english
    assert "Our mistake our-mistake When reason: Arrived damaged, Defective, Wrong item sent" in english


def test_publishing_a_policy(admin: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    vip = {"id": "vip", "name": {"en": "VIP", "fr": "VIP"}, "when": {"customer_tags_any": ["vip"]}}
    document = json.dumps({"defaults": {"window_days": 45}, "rules": [{**vip, "then": {"window_days": 60}}]})
    response = post_form(admin, "/backoffice/settings/policy", {"document": document}, page="/backoffice/settings")
    assert response.status_code == 303
    page = text_of(admin.get("/backoffice/settings?lang=en").text)
    assert "La version 2 de la politique est publiée." in page  # said in the language of the form
    assert "Return policy version 2" in page
    assert "Returnable for 45 days from delivery." in page
    assert "VIP vip When customers tagged vip Then Returnable for 60 days from delivery." in page
    with unit_of_work(factory, write=False) as session:
        assert policy_service.get_active(session, int(shop["id"])).version == 2


@pytest.mark.parametrize(
    ("document", "shown"),
    [
        ('{"defaults": {"window_days": -1}}', "defaults.window_days"),
        ('{"rules": [{"id": "x", "name": {"en": "X", "fr": "X"}, "then": {"refund": 1}}]}', "rules.0.then.refund"),
        ('{"rules": [', "not valid JSON"),
        ("[]", "must be a JSON object"),
    ],
)
def test_an_invalid_policy_names_the_field_and_publishes_nothing(
    admin: TestClient, factory: Factory, shop: dict[str, Any], document: str, shown: str
) -> None:
    response = post_form(admin, "/backoffice/settings/policy", {"document": document}, page="/backoffice/settings")
    assert response.status_code == 422
    assert "La politique n'a pas été publiée" in response.text
    assert shown in response.text
    assert str(escape(document)) in response.text  # the text is kept for correction
    with unit_of_work(factory, write=False) as session:
        assert policy_service.get_active(session, int(shop["id"])).version == 1
