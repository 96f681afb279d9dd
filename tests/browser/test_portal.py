"""The customer portal in a real browser (Debian's chromium): a phone in French, a desktop in
English, photos, an exchange, a gift, a refused lookup and the rate limit, cancelling, and the
core flow with JavaScript turned off. Every step leaves a screenshot in test-artifacts/."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import Engine, select

from retour.catalog import service as catalog_service
from retour.catalog.schemas import ProductIn
from retour.kit.actor import Actor
from retour.kit.db import make_session_factory, unit_of_work
from retour.models import ReturnLine, ReturnRequest
from retour.policy import service as policy_service
from retour.policy.defaults import DEFAULT_POLICY
from tests import factories
from tests.browser.conftest import new_page, screenshot

pytestmark = pytest.mark.browser
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def _picture(colour: str, shape: str) -> str:
    svg = (
        "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 96 96'>"
        "<rect width='96' height='96' fill='#f3efe8'/>"
        f"{shape.format(colour=colour)}</svg>"
    )
    return "data:image/svg+xml," + quote(svg)


NECKLACE_TITLE = "Collier Étoile Filante en argent massif – chaîne forçat 45 cm"
RING = _picture("#c9a45c", "<circle cx='48' cy='52' r='24' fill='none' stroke='{colour}' stroke-width='8'/>")
NECKLACE = _picture("#9aa3ad", "<path d='M22 20 Q48 80 74 20' fill='none' stroke='{colour}' stroke-width='4'/>")


@pytest.fixture
def shop(sqlite_engine: Engine) -> dict[str, Any]:
    """Maison Lune: rings in three sizes, a delivered order with a gift code, stores and a 10 %
    store-credit bonus, with every return method on offer."""
    factory = make_session_factory(sqlite_engine)
    with unit_of_work(factory) as session:
        merchant = factories.merchant(session, slug="maison-lune", name="Maison Lune")
        merchant.brand_color = "#b08d57"
        merchant.settings = {
            "stores": [
                {"code": "paris", "name": "Maison Lune Paris", "address": "3 rue du Temple", "city": "75004 Paris"}
            ]
        }
        raw = {
            **DEFAULT_POLICY,
            "defaults": {
                **DEFAULT_POLICY["defaults"],
                "bonus_credit_percent": "10",
                "methods": ["prepaid_label", "drop_off", "in_store", "home_pickup", "customer_ships"],
            },
        }
        policy_service.publish(session, merchant_id=merchant.id, raw=raw, actor=Actor.system("tests"))
        catalog_service.upsert_product(
            session,
            merchant.id,
            ProductIn.model_validate(
                {
                    "external_id": "ring-lune",
                    "title": "Bague Lune",
                    "category": "rings",
                    "currency": "EUR",
                    "image_url": RING,
                    "variants": [
                        {"sku": "RING-GOLD-52", "title": "Or 52", "price_amount": 12900},
                        {"sku": "RING-GOLD-54", "title": "Or 54", "price_amount": 12900},
                        {"sku": "RING-GOLD-56", "title": "Or 56", "price_amount": 12900},
                    ],
                }
            ),
        )
        payload = factories.order_payload(number="1042", gift_code="LUNE-GIFT-7Q4K")
        payload["lines"][1]["image_url"] = NECKLACE
        payload["lines"][1]["title"] = NECKLACE_TITLE  # long: must wrap, never widen a phone screen
        from retour.order import service as order_service
        from retour.order.schemas import OrderIn

        order, _ = order_service.upsert_order(session, merchant.id, OrderIn.model_validate(payload))
        return {"slug": merchant.slug, "number": "1042", "email": order.email, "order_id": order.id, "factory": factory}


def _returns(shop: dict[str, Any]) -> list[ReturnRequest]:
    with unit_of_work(shop["factory"], write=False) as session:
        return list(session.scalars(select(ReturnRequest)))


def _fits(page: Any) -> None:
    """Nothing wider than the screen: no sideways scrolling on a phone."""
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def _find_by_email(page: Any, base: str, shop: dict[str, Any], *, number: str | None = None) -> None:
    page.goto(f"{base}/s/{shop['slug']}/")
    page.get_by_label("Order number").fill(number or shop["number"])
    page.get_by_label("Email address used for the order").fill(shop["email"])
    page.get_by_role("button", name="Find my order").click()


def test_phone_flow_in_french(live_server: str, browser: Any, shop: dict[str, Any]) -> None:
    page = new_page(browser, width=360, height=740, locale="fr-FR", mobile=True)
    page.goto(f"{live_server}/s/{shop['slug']}/")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert page.get_by_role("heading", name="Retourner un article").is_visible()
    _fits(page)
    screenshot(page, "portal-phone-fr-1-lookup")
    page.get_by_label("Numéro de commande").fill("#1042")
    page.get_by_label("Adresse e-mail utilisée pour la commande").fill(shop["email"])
    page.get_by_role("button", name="Trouver ma commande").click()
    page.get_by_role("heading", name="Commande 1042").wait_for()
    _fits(page)
    screenshot(page, "portal-phone-fr-2-items")
    if os.environ.get("RETOUR_UPDATE_SCREENSHOTS"):
        _docs_screenshot(page, "portal-phone.png")
    ring = page.get_by_role("group", name="Bague Lune or 52")
    ring.get_by_label("Quantité à retourner").select_option("1")
    ring.get_by_label("Motif").select_option(label="Trop petit")
    ring.get_by_label("Commentaire (facultatif)").fill("Un peu serrée")
    page.get_by_role("button", name="Continuer").click()
    page.get_by_role("heading", name="Que souhaitez-vous ?").wait_for()
    assert "129,00" in page.locator("#quote").inner_text()
    # htmx swaps in the quote of the option picked: store credit with its 10 % bonus.
    page.get_by_label("Avoir en boutique").check()
    page.locator("#quote").get_by_text("Bonus sur l'avoir").wait_for()
    assert "141,90" in page.locator("#quote").inner_text()
    page.get_by_label("Point relais avec QR code").check()
    _fits(page)
    screenshot(page, "portal-phone-fr-3-options")
    page.get_by_role("button", name="Vérifier mon retour").click()
    page.get_by_role("heading", name="Vérifier et confirmer").wait_for()
    screenshot(page, "portal-phone-fr-4-review")
    page.get_by_role("button", name="Confirmer mon retour").click()
    page.get_by_role("heading", name="Votre retour est enregistré").wait_for()
    assert page.get_by_role("img", name="QR code à présenter au point relais").is_visible()
    _fits(page)
    screenshot(page, "portal-phone-fr-5-status")
    label = page.request.get(
        live_server + page.get_by_role("link", name="Télécharger l'étiquette (PDF)").get_attribute("href")
    )
    assert label.ok and label.body().startswith(b"%PDF")
    slip = page.request.get(
        live_server + page.get_by_role("link", name="Télécharger le bordereau (PDF)").get_attribute("href")
    )
    assert slip.ok and slip.body().startswith(b"%PDF")
    [created] = _returns(shop)
    assert (created.resolution, created.method, created.refund_estimate_amount) == ("store_credit", "drop_off", 14190)
    page.context.close()


def _docs_screenshot(page: Any, name: str) -> None:
    """The README's pictures, refreshed on demand (``RETOUR_UPDATE_SCREENSHOTS=1``), kept small."""
    from PIL import Image

    DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    raw = Image.open(io.BytesIO(page.screenshot(full_page=False)))
    raw.convert("RGB").quantize(colors=128).save(DOCS_SCREENSHOTS / name, optimize=True)


def test_desktop_flow_in_english_with_the_keyboard(live_server: str, browser: Any, shop: dict[str, Any]) -> None:
    page = new_page(browser, width=1280, height=800, locale="en-GB")
    page.goto(f"{live_server}/s/{shop['slug']}/")
    assert page.locator("html").get_attribute("lang") == "en"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"
    page.get_by_role("link", name="With my postal code").click()
    screenshot(page, "portal-desktop-en-1-lookup")
    page.get_by_label("Order number").fill("1042")
    page.get_by_label("Delivery postal code").fill("75011")
    page.get_by_label("Delivery postal code").press("Enter")
    page.get_by_role("heading", name="Order 1042").wait_for()
    screenshot(page, "portal-desktop-en-2-items")
    ring = page.get_by_role("group", name="Bague Lune or 52")
    ring.get_by_label("Quantity to return").select_option("2")
    ring.get_by_label("Reason").select_option(label="Too large")
    necklace = page.get_by_role("group", name=NECKLACE_TITLE)
    necklace.get_by_label("Quantity to return").select_option("1")
    necklace.get_by_label("Reason").select_option(label="Changed my mind")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="What would you like?").wait_for()
    assert "€347.00" in page.locator("#quote").inner_text()
    page.get_by_label("Refund to your original payment").check()
    page.get_by_label("Prepaid label").check()
    screenshot(page, "portal-desktop-en-3-options")
    if os.environ.get("RETOUR_UPDATE_SCREENSHOTS"):
        _docs_screenshot(page, "portal-desktop.png")
    page.get_by_role("button", name="Review my return").click()
    screenshot(page, "portal-desktop-en-4-review")
    page.get_by_role("button", name="Confirm my return").focus()
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Your return is registered").wait_for()
    assert page.get_by_role("link", name="Download the label (PDF)").is_visible()
    screenshot(page, "portal-desktop-en-5-status")
    [created] = _returns(shop)
    assert (created.resolution, created.method, created.refund_estimate_amount) == ("refund", "prepaid_label", 34700)
    page.context.close()


def test_language_switch_sticks(live_server: str, browser: Any, shop: dict[str, Any]) -> None:
    page = new_page(browser, locale="fr-FR")
    page.goto(f"{live_server}/s/{shop['slug']}/")
    assert page.get_by_role("heading", name="Retourner un article").is_visible()
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    page.get_by_role("link", name="Return policy", exact=True).click()
    assert page.get_by_role("heading", name="Return policy").is_visible()
    assert page.get_by_text("10% bonus on store credit").is_visible()
    screenshot(page, "portal-policy-en")
    page.context.close()


def _png(width: int = 64, height: int = 48) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 160, 90)).save(buffer, "PNG")
    return buffer.getvalue()


def test_photos_are_asked_for_checked_and_kept(live_server: str, browser: Any, shop: dict[str, Any]) -> None:
    page = new_page(browser, width=390, height=844, locale="en-GB", mobile=True)
    _find_by_email(page, live_server, shop)
    ring = page.get_by_role("group", name="Bague Lune or 52")
    ring.get_by_label("Quantity to return").select_option("1")
    ring.get_by_label("Reason").select_option(label="Arrived damaged (photos needed)")
    ring.get_by_label("Comment (optional)").fill("The stone is loose")
    page.get_by_role("button", name="Continue").click()
    alert = page.get_by_role("alert")
    assert "Add at least one photo for this reason." in alert.inner_text()
    photos = page.get_by_role("group", name="Bague Lune or 52").get_by_label("Photos")
    assert photos.get_attribute("aria-invalid") == "true"
    screenshot(page, "portal-photos-1-required")
    photos.set_input_files([{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"not a picture at all"}])
    page.get_by_role("button", name="Continue").click()
    assert "notes.txt" in page.get_by_role("alert").inner_text()
    screenshot(page, "portal-photos-2-refused")
    ring = page.get_by_role("group", name="Bague Lune or 52")
    assert ring.get_by_label("Comment (optional)").input_value() == "The stone is loose"
    ring.get_by_label("Photos").set_input_files([{"name": "ring.png", "mimeType": "image/png", "buffer": _png()}])
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("heading", name="What would you like?").wait_for()
    screenshot(page, "portal-photos-3-accepted")
    page.get_by_role("button", name="Review my return").click()
    assert page.get_by_text("1 photo(s) added.").is_visible()
    page.get_by_role("button", name="Confirm my return").click()
    page.get_by_role("heading", name="Your return is registered").wait_for()
    [created] = _returns(shop)
    from retour.models import ReturnPhoto

    with unit_of_work(shop["factory"], write=False) as session:
        [photo] = session.scalars(select(ReturnPhoto)).all()
        [line] = session.scalars(select(ReturnLine)).all()
        assert (photo.return_request_id, photo.return_line_id) == (created.id, line.id)
        assert line.reason_code == "damaged"
    page.context.close()


def test_exchange_for_another_size(live_server: str, browser: Any, shop: dict[str, Any]) -> None:
    page = new_page(browser, locale="en-GB")
    _find_by_email(page, live_server, shop)
    ring = page.get_by_role("group", name="Bague Lune or 52")
    ring.get_by_label("Quantity to return").select_option("1")
    ring.get_by_label("Reason").select_option(label="Too small")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Exchange for another size or colour").check()
    page.get_by_label("Instead of Bague Lune or 52").select_option(label="Or 54 · €129.00 · available")
    page.get_by_label("Return in store").check()
    page.get_by_label("Maison Lune Paris").check()
    screenshot(page, "portal-exchange-1-options")
    page.get_by_role("button", name="Review my return").click()
    assert page.get_by_text("Exchange for: Or 54").is_visible()
    page.get_by_role("button", name="Confirm my return").click()
    page.get_by_role("heading", name="Your return is registered").wait_for()
    assert page.get_by_text("Maison Lune Paris").first.is_visible()
    screenshot(page, "portal-exchange-2-status")
    with unit_of_work(shop["factory"], write=False) as session:
        [line] = session.scalars(select(ReturnLine)).all()
        assert line.exchange_variant_id is not None
    page.context.close()


def test_gift_return(live_server: str, browser: Any, shop: dict[str, Any]) -> None:
    page = new_page(browser, width=360, height=740, locale="fr-FR", mobile=True)
    page.goto(f"{live_server}/s/{shop['slug']}/")
    page.get_by_role("link", name="J'ai reçu un cadeau").click()
    page.get_by_label("Numéro de commande").fill("1042")
    page.get_by_label("Code cadeau").fill("lune gift 7q4k")
    page.get_by_label("Votre adresse e-mail").fill("alix@example.org")
    screenshot(page, "portal-gift-1-lookup")
    page.get_by_role("button", name="Trouver ma commande").click()
    necklace = page.get_by_role("group", name=NECKLACE_TITLE)
    necklace.get_by_label("Quantité à retourner").select_option("1")
    necklace.get_by_label("Motif").select_option(label="J'ai changé d'avis")
    page.get_by_role("button", name="Continuer").click()
    assert page.get_by_label("Avoir en boutique").is_checked()
    assert page.get_by_text("Un retour de cadeau est réglé par un avoir").is_visible()
    screenshot(page, "portal-gift-2-options")
    page.get_by_label("Envoi par vos soins").check()
    page.get_by_role("button", name="Vérifier mon retour").click()
    page.get_by_role("button", name="Confirmer mon retour").click()
    assert page.get_by_text("l'avoir est pour alix@example.org, pas pour l'acheteur").is_visible()
    screenshot(page, "portal-gift-3-status")
    [created] = _returns(shop)
    assert (created.resolution, created.gift_recipient_email) == ("store_credit", "alix@example.org")
    page.context.close()


def test_refused_lookup_then_rate_limit(live_server: str, browser: Any, shop: dict[str, Any]) -> None:
    page = new_page(browser, locale="en-GB")
    page.goto(f"{live_server}/s/{shop['slug']}/")
    for attempt in range(5):
        page.get_by_label("Order number").fill("1042")
        page.get_by_label("Email address used for the order").fill(f"guess{attempt}@example.fr")
        page.get_by_role("button", name="Find my order").click()
        assert page.get_by_role("alert").get_by_text("No order matches these details").is_visible()
        assert page.get_by_label("Order number").input_value() == "1042"
        if attempt == 0:
            screenshot(page, "portal-lookup-refused")
    _find_by_email(page, live_server, shop)
    alert = page.get_by_role("alert")
    assert "Too many attempts" in alert.inner_text()
    assert "try again in 15 minutes" in alert.inner_text()
    screenshot(page, "portal-lookup-rate-limited")
    page.context.close()


def test_cancel_a_return(live_server: str, browser: Any, shop: dict[str, Any]) -> None:
    page = new_page(browser, width=360, height=740, locale="en-GB", mobile=True)
    _find_by_email(page, live_server, shop)
    ring = page.get_by_role("group", name="Bague Lune or 52")
    ring.get_by_label("Quantity to return").select_option("1")
    ring.get_by_label("Reason").select_option(label="Too small")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Review my return").click()
    page.get_by_role("button", name="Confirm my return").click()
    link = page.url.split("?")[0]
    other = new_page(browser, width=360, height=740, locale="en-GB", mobile=True)
    other.goto(link)  # the signed link alone, as in an email
    other.get_by_text("Cancel this return").click()
    screenshot(other, "portal-cancel-1-confirm")
    other.get_by_role("button", name="Yes, cancel my return").click()
    assert other.get_by_role("status").get_by_text("Your return has been cancelled.").is_visible()
    assert other.get_by_text("Cancelled", exact=True).is_visible()
    screenshot(other, "portal-cancel-2-done")
    [created] = _returns(shop)
    assert created.status == "cancelled"
    other.context.close()
    page.context.close()


def test_core_flow_without_javascript(live_server: str, browser: Any, shop: dict[str, Any]) -> None:
    context = browser.new_context(java_script_enabled=False, locale="fr-FR", viewport={"width": 360, "height": 740})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live_server}/s/{shop['slug']}/")
    page.get_by_label("Numéro de commande").fill("1042")
    page.get_by_label("Adresse e-mail utilisée pour la commande").fill(shop["email"])
    page.get_by_role("button", name="Trouver ma commande").click()
    ring = page.get_by_role("group", name="Bague Lune or 52")
    ring.get_by_label("Quantité à retourner").select_option("1")
    ring.get_by_label("Motif").select_option(label="Trop grand")
    page.get_by_role("button", name="Continuer").click()
    page.get_by_label("Avoir en boutique").check()
    page.get_by_label("Enlèvement à domicile").check()
    page.get_by_label("Jour et créneau").select_option(index=1)
    screenshot(page, "portal-nojs-1-options")
    page.get_by_role("button", name="Vérifier mon retour").click()
    # Without JavaScript the review page shows the amount of the option chosen.
    assert "141,90" in page.locator(".quote").inner_text()
    page.get_by_role("button", name="Confirmer mon retour").click()
    page.get_by_role("heading", name="Votre retour est enregistré").wait_for()
    assert page.get_by_text("Un coursier passe le").is_visible()
    screenshot(page, "portal-nojs-2-status")
    [created] = _returns(shop)
    assert (created.resolution, created.method) == ("store_credit", "home_pickup")
    context.close()
