"""The shop's own settings in the back-office: its branding (what the portal shows), its stock
locations and its warehouse settings. Admins change them; a refused field is named and nothing
changes; other roles get 403 and another shop's location is not found."""

from __future__ import annotations

import html
import re
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from retour.inventory import service as inventory_service
from retour.inventory.schemas import LocationIn
from retour.kit.actor import Actor
from retour.kit.db import unit_of_work
from retour.models import AuditEvent, Merchant, StockLocation
from retour.receiving import service as receiving_service
from tests import factories
from tests.backoffice.conftest import add_staff, csrf_of, login

Factory = sessionmaker[Session]
SETTINGS = "/backoffice/settings"
LOCATIONS = "/backoffice/settings/locations"
WAREHOUSE = "/backoffice/settings/warehouse"
SYSTEM = Actor.system("tests")


def text_of(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page))).strip()


def post_form(client: TestClient, page: str, path: str, data: dict[str, Any]) -> Any:
    """Post like the browser would: with the CSRF token of the page the form is on."""
    token = csrf_of(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def branding(factory: Factory, merchant_id: int) -> tuple[tuple[str, str | None, str, str], int]:
    """The shop's name, logo, colour and language, and how many branding changes were audited."""
    with unit_of_work(factory, write=False) as session:
        merchant = session.get(Merchant, merchant_id)
        assert merchant is not None
        changes = session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.merchant_id == merchant_id, AuditEvent.action == "merchant.branding_changed")
        )
        return (merchant.name, merchant.logo_url, merchant.brand_color, merchant.default_language), int(changes or 0)


def locations_of(
    factory: Factory, merchant_id: int
) -> list[tuple[str, str, str, dict[str, Any], list[Any], bool, bool]]:
    with unit_of_work(factory, write=False) as session:
        rows = session.scalars(
            select(StockLocation).where(StockLocation.merchant_id == merchant_id).order_by(StockLocation.code)
        )
        return [
            (row.code, row.name, row.kind, dict(row.address), list(row.countries_served), row.is_default, row.is_active)
            for row in rows
        ]


def location_id(factory: Factory, merchant_id: int, code: str) -> int:
    with unit_of_work(factory, write=False) as session:
        location = session.scalars(
            select(StockLocation).where(StockLocation.merchant_id == merchant_id, StockLocation.code == code)
        ).one()
        return location.id


SHOP_FORM = {
    "name": "Maison Lumière",
    "logo_url": "https://cdn.maison-lumiere.test/logo.svg",
    "brand_color": "#1A5E3A",
    "default_language": "en",
}
LYON = {
    "code": "lyon",
    "name": "Entrepôt de Lyon",
    "kind": "warehouse",
    "address_lines": "12 rue des Tanneurs\nBâtiment B",
    "postal_code": "69007",
    "city": "Lyon",
    "country": "fr",
    "countries_served": "fr, be; LU",
}


# ---- Shop branding ---------------------------------------------------------------------------------


def test_an_admin_rebrands_the_shop_and_the_portal_shows_it(
    admin: TestClient, factory: Factory, shop: dict[str, Any]
) -> None:
    merchant_id = int(shop["id"])
    assert branding(factory, merchant_id) == (("Maison Test", None, "#3b4a6b", "fr"), 0)
    before_portal = admin.get(f"/s/{shop['slug']}/").text
    assert "--brand: #3b4a6b;" in before_portal and 'class="logo"' not in before_portal

    saved = post_form(admin, f"{SETTINGS}?lang=en", f"{SETTINGS}/shop", SHOP_FORM)

    assert saved.status_code == 303
    assert saved.headers["location"] == f"{SETTINGS}#shop"
    assert branding(factory, merchant_id) == (
        ("Maison Lumière", "https://cdn.maison-lumiere.test/logo.svg", "#1a5e3a", "en"),
        1,
    )
    page = admin.get(f"{SETTINGS}?lang=en").text
    assert "The shop's name and branding are saved." in text_of(page)
    assert '<span class="shop">Maison Lumière</span>' in page  # the top bar follows at once
    assert (
        "Shop name Maison Lumière Logo https://cdn.maison-lumiere.test/logo.svg Brand colour #1a5e3a "
        "Default language English Portal /s/" in text_of(page)
    )
    with unit_of_work(factory, write=False) as session:
        event = session.scalars(select(AuditEvent).where(AuditEvent.action == "merchant.branding_changed")).one()
        assert event.before == {
            "name": "Maison Test",
            "logo_url": None,
            "brand_color": "#3b4a6b",
            "default_language": "fr",
        }
        assert event.after == {
            "name": "Maison Lumière",
            "logo_url": "https://cdn.maison-lumiere.test/logo.svg",
            "brand_color": "#1a5e3a",
            "default_language": "en",
        }
        assert event.actor_label == "Admin Martin"

    portal = admin.get(f"/s/{shop['slug']}/", headers={"Accept-Language": "de"}).text
    assert '<img src="https://cdn.maison-lumiere.test/logo.svg" alt="Maison Lumière" class="logo">' in portal
    assert "--brand: #1a5e3a;" in portal
    assert '<html lang="en">' in portal  # the shop's default language for a browser asking neither

    # A path on the site is a logo too; the same values again change (and audit) nothing more.
    again = {**SHOP_FORM, "logo_url": "/static/logo.png", "brand_color": "#1a5e3a"}
    assert post_form(admin, SETTINGS, f"{SETTINGS}/shop", again).status_code == 303
    assert post_form(admin, SETTINGS, f"{SETTINGS}/shop", again).status_code == 303
    assert branding(factory, merchant_id) == (("Maison Lumière", "/static/logo.png", "#1a5e3a", "en"), 2)


@pytest.mark.parametrize(
    ("field", "value", "language", "message"),
    [
        ("brand_color", "1a5e3a", "en", "Brand colour: write it as # and six hexadecimal digits, e.g. #1a5e3a."),
        ("brand_color", "#12345", "en", "Brand colour: write it as # and six hexadecimal digits, e.g. #1a5e3a."),
        (
            "brand_color",
            "red",
            "fr",
            "Couleur de la marque : écrivez # suivi de six chiffres hexadécimaux, par ex. #1a5e3a.",
        ),
        (
            "logo_url",
            "http://cdn.maison.test/logo.png",
            "en",
            "Logo URL: give an address starting with https:// or a path on this site starting with /.",
        ),
        (
            "logo_url",
            "javascript:alert(1)",
            "en",
            "Logo URL: give an address starting with https:// or a path on this site starting with /.",
        ),
        (
            "logo_url",
            "//evil.test/logo.png",
            "fr",
            "URL du logo : donnez une adresse commençant par https:// ou un chemin de ce site commençant par /.",
        ),
        ("name", "   ", "en", "Shop name: give the shop a name."),
        ("default_language", "de", "en", "Default language: choose French or English."),
    ],
)
def test_a_bad_branding_field_is_named_and_nothing_changes(
    admin: TestClient, factory: Factory, shop: dict[str, Any], field: str, value: str, language: str, message: str
) -> None:
    before = branding(factory, int(shop["id"]))
    refused = post_form(admin, f"{SETTINGS}?lang={language}", f"{SETTINGS}/shop", {**SHOP_FORM, field: value})

    assert refused.status_code == 422
    assert f'<li id="shop-error-{field}">{html.escape(message, quote=True)}</li>' in refused.text
    assert f'aria-invalid="true" aria-describedby="shop-error-{field}"' in refused.text
    assert refused.text.count('aria-invalid="true"') == 1
    if field != "default_language":
        assert f'name="{field}" value="{html.escape(value, quote=True)}"' in refused.text  # shown back as typed
    assert branding(factory, int(shop["id"])) == before


def test_every_bad_branding_field_is_named_at_once(admin: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    before = branding(factory, int(shop["id"]))
    refused = post_form(
        admin, f"{SETTINGS}?lang=en", f"{SETTINGS}/shop", {**SHOP_FORM, "logo_url": "ftp://x", "brand_color": "#zzzzzz"}
    )
    assert refused.status_code == 422
    errors = re.findall(r'<li id="shop-error-(\w+)">', refused.text)
    assert errors == ["logo_url", "brand_color"]
    assert branding(factory, int(shop["id"])) == before


@pytest.mark.parametrize("role", ["agent", "warehouse"])
def test_other_roles_cannot_change_the_shop_nor_open_its_admin_pages(
    client: TestClient, factory: Factory, shop: dict[str, Any], role: str
) -> None:
    merchant_id = int(shop["id"])
    with unit_of_work(factory) as session:
        inventory_service.create_location(
            session, merchant_id, LocationIn(code="PARIS", name="Paris", countries_served=["FR"]), actor=SYSTEM
        )
    paris = location_id(factory, merchant_id, "PARIS")
    assert login(client, add_staff(factory, merchant_id, role)).status_code == 303
    before = (branding(factory, merchant_id), locations_of(factory, merchant_id))
    settings = client.get(f"{SETTINGS}?lang=en")
    if role == "agent":
        assert settings.status_code == 200
        assert 'id="shop"' in settings.text and 'action="/backoffice/settings/shop"' not in settings.text
        assert f'href="{LOCATIONS}"' not in settings.text
    else:
        assert settings.status_code == 403
    for page in (LOCATIONS, f"{LOCATIONS}/{paris}", WAREHOUSE):
        assert client.get(page).status_code == 403, page
    token = csrf_of(client.get("/backoffice/returns").text)
    posts = {
        f"{SETTINGS}/shop": SHOP_FORM,
        LOCATIONS: LYON,
        f"{LOCATIONS}/{paris}": {**LYON, "is_default": "on", "is_active": "on"},
        WAREHOUSE: {"weight_tolerance_percent": "50"},
    }
    for path, data in posts.items():
        response = client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
        assert response.status_code == 403, path
    assert (branding(factory, merchant_id), locations_of(factory, merchant_id)) == before


def test_the_shop_form_needs_the_csrf_token(admin: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    before = branding(factory, int(shop["id"]))
    assert admin.post(f"{SETTINGS}/shop", data=SHOP_FORM, follow_redirects=False).status_code == 403
    assert branding(factory, int(shop["id"])) == before


def test_create_merchant_takes_a_logo_and_a_colour(
    factory: Factory, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from retour import cli

    monkeypatch.setattr(cli, "_factory", lambda: factory)
    runner = CliRunner()
    created = runner.invoke(
        cli.app,
        ["create-merchant", "atelier", "Atelier", "--logo-url", "/static/atelier.png", "--brand-color", "#AA3300"],
    )
    assert created.exit_code == 0, created.output
    refused = runner.invoke(cli.app, ["create-merchant", "autre", "Autre", "--brand-color", "orange"])
    assert refused.exit_code == 1
    assert "error (brand_color): the colour must be written #rrggbb" in refused.output
    with unit_of_work(factory, write=False) as session:
        shops = session.execute(select(Merchant.slug, Merchant.logo_url, Merchant.brand_color)).all()
        assert [tuple(row) for row in shops] == [("atelier", "/static/atelier.png", "#aa3300")]


def test_the_api_reads_and_replaces_the_branding(client: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    headers = shop["headers"]
    expected = {
        "slug": shop["slug"],
        "name": "Maison Test",
        "logo_url": None,
        "brand_color": "#3b4a6b",
        "default_language": "fr",
        "default_currency": "EUR",
        "portal_path": f"/s/{shop['slug']}/",
    }
    assert client.get("/api/v1/settings/shop", headers=headers).json() == expected
    body = {
        "name": "Maison Lumière",
        "logo_url": "/static/logo.png",
        "brand_color": "#1A5E3A",
        "default_language": "en",
    }
    replaced = client.put("/api/v1/settings/shop", json=body, headers=headers)
    assert replaced.status_code == 200
    changed = {**expected, **body, "brand_color": "#1a5e3a"}
    assert replaced.json() == changed
    assert branding(factory, int(shop["id"])) == (("Maison Lumière", "/static/logo.png", "#1a5e3a", "en"), 1)

    refused = client.put(
        "/api/v1/settings/shop",
        json={**body, "logo_url": "http://x.test/l.png", "brand_color": "blue"},
        headers=headers,
    )
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert (problem["code"], problem["field"]) == ("invalid_logo_url", "logo_url")
    assert [(error["field"], error["code"]) for error in problem["errors"]] == [
        ("logo_url", "invalid_logo_url"),
        ("brand_color", "invalid_brand_color"),
    ]
    with unit_of_work(factory) as session:
        reader = {"Authorization": f"Bearer {factories.api_key(session, int(shop['id']), ['read'])}"}
    assert client.put("/api/v1/settings/shop", json=body, headers=reader).status_code == 403
    assert client.get("/api/v1/settings/shop", headers=headers).json() == changed
    assert branding(factory, int(shop["id"])) == (("Maison Lumière", "/static/logo.png", "#1a5e3a", "en"), 1)


# ---- Stock locations -------------------------------------------------------------------------------


def test_a_location_created_then_edited_is_listed_and_used_by_inventory(
    admin: TestClient, factory: Factory, shop: dict[str, Any]
) -> None:
    merchant_id = int(shop["id"])
    created = post_form(admin, f"{LOCATIONS}?lang=en", LOCATIONS, LYON)
    assert created.status_code == 303 and created.headers["location"] == LOCATIONS
    page = admin.get(f"{LOCATIONS}?lang=en").text
    assert "The location LYON is added." in page
    assert (
        "LYON Entrepôt de Lyon Default Warehouse 12 rue des Tanneurs, Bâtiment B, 69007 Lyon, FR BE, FR, LU In use Edit"
        in text_of(page)
    )
    address = {"lines": ["12 rue des Tanneurs", "Bâtiment B"], "postal_code": "69007", "city": "Lyon", "country": "FR"}
    assert locations_of(factory, merchant_id) == [
        ("LYON", "Entrepôt de Lyon", "warehouse", address, ["BE", "FR", "LU"], True, True)
    ]
    store = {"code": "GENEVE", "name": "Boutique de Genève", "kind": "store", "countries_served": "CH"}
    assert post_form(admin, LOCATIONS, LOCATIONS, store).status_code == 303
    geneve = location_id(factory, merchant_id, "GENEVE")

    edit = admin.get(f"{LOCATIONS}/{geneve}?lang=en")
    assert edit.status_code == 200
    assert 'name="code" value="GENEVE" readonly' in edit.text
    edited = post_form(
        admin,
        f"{LOCATIONS}/{geneve}",
        f"{LOCATIONS}/{geneve}",
        {
            **store,
            "name": "Genève",
            "countries_served": "ch li",
            "city": "Genève",
            "is_default": "on",
            "is_active": "on",
        },
    )
    assert edited.status_code == 303
    assert "The location GENEVE is saved." in admin.get(f"{LOCATIONS}?lang=en").text
    # Deactivating Lyon, which is no longer the default, is allowed.
    lyon = location_id(factory, merchant_id, "LYON")
    assert post_form(admin, f"{LOCATIONS}/{lyon}", f"{LOCATIONS}/{lyon}", LYON).status_code == 303

    geneve_address = {"lines": [], "postal_code": "", "city": "Genève", "country": ""}
    assert locations_of(factory, merchant_id) == [
        ("GENEVE", "Genève", "store", geneve_address, ["CH", "LI"], True, True),
        ("LYON", "Entrepôt de Lyon", "warehouse", address, ["BE", "FR", "LU"], False, False),
    ]
    listed = text_of(admin.get(f"{LOCATIONS}?lang=en").text)
    assert "GENEVE Genève Default Store Genève CH, LI In use Edit LYON Entrepôt de Lyon Warehouse" in listed
    assert "BE, FR, LU Not in use Edit" in listed
    with unit_of_work(factory, write=False) as session:
        assert inventory_service.location_for_country(session, merchant_id, "LI").code == "GENEVE"  # type: ignore[union-attr]
        assert inventory_service.location_for_country(session, merchant_id, "FR").code == "GENEVE"  # type: ignore[union-attr]
        assert [row.location_code for row in inventory_service.stock(session, merchant_id, "RING-1").locations] == [
            "GENEVE"
        ]
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.subject_type == "stock_location").order_by(AuditEvent.id)
        ).all()
        assert actions == ["location.created", "location.created", "location.updated", "location.updated"]
    # The warehouse's stock page offers the active locations only.
    stock = text_of(admin.get("/backoffice/warehouse/stock?sku=RING-1&lang=en").text)
    assert "Genève" in stock and "Entrepôt de Lyon" not in stock


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"countries_served": "FR, ZZ, uk"},
            "countries_served",
            "Countries served: ZZ, UK: not ISO 3166 two-letter country codes (e.g. FR, BE).",
        ),
        ({"country": "XX"}, "country", "Country: XX is not an ISO 3166 two-letter country code (e.g. FR)."),
        (
            {"code": "bad code!"},
            "code",
            "Code: letters, digits, dashes and underscores, starting with a letter or a digit (40 at most).",
        ),
        ({"name": ""}, "name", "Name: give the location a name (200 characters at most)."),
        ({"kind": "depot"}, "kind", "Kind: choose warehouse or store."),
        ({"address_lines": "1\n2\n3\n4\n5"}, "address_lines", "Address: 4 lines of 200 characters at most."),
        ({"code": "paris"}, "code", "Code: another location already uses PARIS."),
    ],
)
def test_a_refused_location_field_is_named_and_nothing_is_created(
    admin: TestClient, factory: Factory, shop: dict[str, Any], changes: dict[str, str], field: str, message: str
) -> None:
    merchant_id = int(shop["id"])
    with unit_of_work(factory) as session:
        inventory_service.create_location(session, merchant_id, LocationIn(code="PARIS", name="Paris"), actor=SYSTEM)
    before = locations_of(factory, merchant_id)
    refused = post_form(admin, f"{LOCATIONS}?lang=en", LOCATIONS, {**LYON, **changes})
    assert refused.status_code in (409, 422)
    assert f'<li id="location-error-{field}">{html.escape(message, quote=True)}</li>' in refused.text
    assert f'aria-invalid="true" aria-describedby="location-error-{field}"' in refused.text
    assert 'value="Entrepôt de Lyon"' in refused.text or field == "name"  # what was typed is shown back
    assert locations_of(factory, merchant_id) == before


def test_a_refused_location_field_is_named_in_french(admin: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    refused = post_form(admin, f"{LOCATIONS}?lang=fr", LOCATIONS, {**LYON, "countries_served": "FR, ZZ"})
    assert refused.status_code == 422
    message = "Pays desservis : ZZ : codes de pays ISO 3166 à deux lettres non valides (par ex. FR, BE)."
    assert f'<li id="location-error-countries_served">{html.escape(message, quote=True)}</li>' in refused.text
    assert locations_of(factory, int(shop["id"])) == []


@pytest.mark.parametrize(
    ("changes", "status", "field", "message"),
    [
        (
            {"is_default": "", "is_active": "on"},
            409,
            "is_default",
            "Default: the shop needs a default location; make another one the default instead.",
        ),
        (
            {"is_default": "on", "is_active": ""},
            409,
            "is_active",
            "Active: the default location stays active; make another one the default first.",
        ),
        (
            {"is_default": "on", "is_active": "on", "countries_served": "FR QQ"},
            422,
            "countries_served",
            "Countries served: QQ: not ISO 3166 two-letter country codes (e.g. FR, BE).",
        ),
    ],
)
def test_an_edit_refused_changes_nothing(
    admin: TestClient,
    factory: Factory,
    shop: dict[str, Any],
    changes: dict[str, str],
    status: int,
    field: str,
    message: str,
) -> None:
    merchant_id = int(shop["id"])
    assert post_form(admin, LOCATIONS, LOCATIONS, LYON).status_code == 303
    lyon = location_id(factory, merchant_id, "LYON")
    before = locations_of(factory, merchant_id)
    page = f"{LOCATIONS}/{lyon}"
    refused = post_form(admin, f"{page}?lang=en", page, {**LYON, "name": "Renamed", **changes})
    assert refused.status_code == status
    assert f'<li id="location-error-{field}">{html.escape(message, quote=True)}</li>' in refused.text
    assert 'value="Renamed"' in refused.text
    assert locations_of(factory, merchant_id) == before
    with unit_of_work(factory, write=False) as session:
        updates = session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "location.updated")
        )
        assert updates == 0


def test_another_shops_location_is_not_found(admin: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    with unit_of_work(factory) as session:
        other = factories.merchant(session, slug="autre-boutique")
        other_id = other.id
        inventory_service.create_location(
            session, other_id, LocationIn(code="LYON", name="Leur entrepôt", countries_served=["FR"]), actor=SYSTEM
        )
    theirs = location_id(factory, other_id, "LYON")
    before = locations_of(factory, other_id)
    assert admin.get(f"{LOCATIONS}/{theirs}").status_code == 404
    token = csrf_of(admin.get(LOCATIONS).text)
    response = admin.post(
        f"{LOCATIONS}/{theirs}",
        data={"csrf_token": token, **LYON, "name": "Pris", "is_default": "on", "is_active": "on"},
        follow_redirects=False,
    )
    assert response.status_code == 404
    assert locations_of(factory, other_id) == before
    assert "Leur entrepôt" not in admin.get(LOCATIONS).text
    # The same code is free in this shop: codes are unique per shop only.
    assert post_form(admin, LOCATIONS, LOCATIONS, LYON).status_code == 303
    assert [row[0] for row in locations_of(factory, int(shop["id"]))] == ["LYON"]


# ---- Warehouse settings ----------------------------------------------------------------------------


def _warehouse_form(**changes: str) -> dict[str, str]:
    form = {
        "discount_new": "10",
        "discount_open_box": "15",
        "discount_used": "30",
        "discount_lightly_damaged": "45",
        "discount_heavily_damaged": "65",
        "discount_defective": "75",
        "weight_tolerance_percent": "3",
        "weight_tolerance_minimum_grams": "0.2",
        "restock_location": "",
    }
    return {**form, **changes}


def test_an_admin_sets_the_resale_discounts_and_the_scale_tolerance(
    admin: TestClient, factory: Factory, shop: dict[str, Any]
) -> None:
    merchant_id = int(shop["id"])
    assert post_form(admin, LOCATIONS, LOCATIONS, LYON).status_code == 303
    page = admin.get(f"{WAREHOUSE}?lang=en")
    assert page.status_code == 200
    assert 'name="discount_used" value="30"' in page.text
    assert 'name="weight_tolerance_minimum_grams" value="0.2"' in page.text
    saved = post_form(
        admin,
        WAREHOUSE,
        WAREHOUSE,
        _warehouse_form(
            discount_used="40",
            weight_tolerance_percent="5",
            weight_tolerance_minimum_grams="0,5",
            restock_location="LYON",
        ),
    )
    assert saved.status_code == 303 and saved.headers["location"] == WAREHOUSE
    shown = admin.get(f"{WAREHOUSE}?lang=en").text
    assert "The warehouse settings are saved." in shown
    assert 'name="discount_used" value="40"' in shown and 'name="weight_tolerance_minimum_grams" value="0.5"' in shown
    assert '<option value="LYON" selected>' in shown
    with unit_of_work(factory, write=False) as session:
        stored = receiving_service.warehouse_settings(session, merchant_id)
        assert stored.resale_discounts == {"used": Decimal(40)}  # the built-in values are not copied
        assert (stored.weight_tolerance_percent, stored.weight_tolerance_minimum_grams) == (Decimal(5), Decimal("0.5"))
        assert stored.restock_location == "LYON"
        assert (
            session.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "warehouse.settings_updated")
            )
            == 1
        )


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"discount_used": "150"}, "discount_used", "Used: a discount is a percentage between 0 and 100."),
        ({"discount_new": "NaN"}, "discount_new", "New: a discount is a percentage between 0 and 100."),
        (
            {"weight_tolerance_percent": "-1"},
            "weight_tolerance_percent",
            "Scale tolerance: a percentage between 0 and 100.",
        ),
        (
            {"weight_tolerance_minimum_grams": "abc"},
            "weight_tolerance_minimum_grams",
            "Minimum tolerance: a number of grams between 0 and 1000.",
        ),
        (
            {"restock_location": "NOWHERE"},
            "restock_location",
            "Fixed restock location: choose one of the active locations.",
        ),
    ],
)
def test_a_refused_warehouse_setting_is_named_and_nothing_changes(
    admin: TestClient, factory: Factory, shop: dict[str, Any], changes: dict[str, str], field: str, message: str
) -> None:
    merchant_id = int(shop["id"])
    with unit_of_work(factory, write=False) as session:
        before = receiving_service.warehouse_settings(session, merchant_id)
    refused = post_form(admin, f"{WAREHOUSE}?lang=en", WAREHOUSE, _warehouse_form(discount_open_box="20", **changes))
    assert refused.status_code == 422
    assert f'<li id="warehouse-error-{field}">{html.escape(message, quote=True)}</li>' in refused.text
    assert 'name="discount_open_box" value="20"' in refused.text  # what was typed is shown back
    with unit_of_work(factory, write=False) as session:
        assert receiving_service.warehouse_settings(session, merchant_id) == before
        merchant = session.get(Merchant, merchant_id)
        assert merchant is not None and "warehouse" not in (merchant.settings or {})


def test_the_checklist_of_each_family_is_shown(admin: TestClient, factory: Factory, shop: dict[str, Any]) -> None:
    page = text_of(admin.get(f"{WAREHOUSE}?lang=en&category=Rings").text)
    assert (
        "Jewellery Built-in Matches the sale record (reference, hallmark, stones) Refuses the unit when it fails "
        "Weight on the precision scale matches the catalogue Precision scale Refuses the unit when it fails"
    ) in page
    assert "Electronics Built-in Powers on" in page
    assert "Category “Rings” Built-in (the checklist of “Jewellery”)" in page
    french = text_of(admin.get(f"{WAREHOUSE}?lang=fr").text)
    assert "Le poids sur la balance de précision correspond au catalogue" in french
