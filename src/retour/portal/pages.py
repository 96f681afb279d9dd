"""Rendering portal pages: the shop's branding (with a readable contrast), the page language (the
customer's choice sticks in the session), and the labels of codes that templates translate."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import Response

from retour.kit import i18n
from retour.kit.web import Pages
from retour.models import Merchant

PAGES = Pages(area="portal")
LANGUAGE_SESSION_KEY = "portal_lang"
PORTAL_SESSION_KEY = "portal"
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}){1,2}$")
DEFAULT_BRAND = "#3b4a6b"


def N_(message: str) -> str:
    """Mark a message for translation where it is defined; templates translate it with ``_()``."""
    return message


RESOLUTION_LABELS = {
    "refund": N_("Refund to your original payment"),
    "store_credit": N_("Store credit"),
    "exchange": N_("Exchange for another size or colour"),
    "keep": N_("Keep the item and get a refund"),
}
RESOLUTION_HINTS = {
    "refund": N_("The money goes back to the card or account you paid with."),
    "store_credit": N_("Spend it in the shop whenever you like."),
    "exchange": N_("We send you the variant you choose."),
    "keep": N_("No need to send anything back."),
}
UNAVAILABLE_LABELS = {
    "gift": N_("Gift returns are settled with store credit for you (or an exchange), never on the buyer's card."),
    "no_variant": N_("No other size or colour is available for these items."),
    "sold_out": N_("Every other size or colour is sold out for now."),
}
METHOD_LABELS = {
    "prepaid_label": N_("Prepaid label"),
    "drop_off": N_("Drop-off point with a QR code"),
    "in_store": N_("Return in store"),
    "home_pickup": N_("Home pickup"),
    "customer_ships": N_("Ship it yourself"),
}
METHOD_HINTS = {
    "prepaid_label": N_("Print the label, stick it on the parcel and hand it to the carrier."),
    "drop_off": N_("No printer needed: show the QR code at a drop-off point."),
    "in_store": N_("Bring the items to one of our stores."),
    "home_pickup": N_("A courier collects the parcel at your delivery address."),
    "customer_ships": N_("Send the parcel with the carrier of your choice, at your cost."),
}
STATUS_LABELS = {
    "requested": N_("Waiting for review"),
    "approved": N_("Approved"),
    "rejected": N_("Refused"),
    "cancelled": N_("Cancelled"),
    "in_progress": N_("In progress"),
    "completed": N_("Completed"),
    "expired": N_("Expired"),
}
STEP_LABELS = {
    "requested": N_("Requested"),
    "approved": N_("Approved"),
    "label_created": N_("Label created"),
    "in_transit": N_("In transit"),
    "delivered": N_("Delivered to our warehouse"),
    "received": N_("Received"),
    "inspected": N_("Inspected"),
    "settled": N_("Refunded"),
}
SETTLED_LABELS = {
    "refund": N_("Refunded"),
    "keep": N_("Refunded"),
    "store_credit": N_("Credited"),
    "exchange": N_("Exchanged"),
}
PICKUP_SLOT_LABELS = {"09-12": N_("9:00 to 12:00"), "13-17": N_("13:00 to 17:00")}
PICKUP_FIELD_LABELS = {"pickup_date": N_("Day"), "pickup_slot": N_("Time slot"), "store_code": N_("Store")}
PROBLEM_MESSAGES = {
    "required": N_("This field is required."),
    "invalid_email": N_("Enter a valid email address, like name@example.com."),
    "not_returnable": N_("This item cannot be returned."),
    "quantity_exceeds_returnable": N_("You can return at most %(count)s of this item."),
    "reason_required": N_("Choose a reason."),
    "photos_required": N_("Add at least one photo for this reason."),
    "too_many_photos": N_("At most %(count)s photos per item."),
    "nothing_chosen": N_("Choose at least one item to return (quantity 1 or more)."),
    "resolution_required": N_("Choose what you would like."),
    "variant_required": N_("Choose the size or colour you want instead."),
    "variant_out_of_stock": N_("This size or colour is out of stock: choose another one."),
    "method_required": N_("Choose how you will send the parcel."),
    "pickup_required": N_("Choose a day and a time slot for the pickup."),
    "store_required": N_("Choose a store."),
    "unsupported_type": N_("%(filename)s is not a JPEG, PNG or WebP photo."),
    "not_an_image": N_("%(filename)s is not a photo we can read."),
    "too_large": N_("%(filename)s is larger than %(max_mb)s MB."),
    "too_many_pixels": N_("%(filename)s has more than %(max_megapixels)s million pixels."),
    "empty": N_("%(filename)s is empty."),
    "form_too_large": N_(
        "Your photos together are larger than %(max_mb)s MB. Send fewer at a time (each up to %(file_mb)s MB):"
        " the photos already added are kept."
    ),
}
LABELS = {
    "resolution": RESOLUTION_LABELS,
    "resolution_hint": RESOLUTION_HINTS,
    "unavailable": UNAVAILABLE_LABELS,
    "method": METHOD_LABELS,
    "method_hint": METHOD_HINTS,
    "status": STATUS_LABELS,
    "step": STEP_LABELS,
    "settled": SETTLED_LABELS,
    "slot": PICKUP_SLOT_LABELS,
    "pickup_field": PICKUP_FIELD_LABELS,
}


@dataclass(frozen=True)
class Shop:
    """The shop as the portal shows it. Colours are adjusted so that text stays readable."""

    id: int
    slug: str
    name: str
    logo_url: str | None
    brand: str
    brand_text: str
    currency: str
    language: str

    @classmethod
    def of(cls, merchant: Merchant) -> Shop:
        brand = readable_on_white(merchant.brand_color if _HEX.match(merchant.brand_color or "") else DEFAULT_BRAND)
        return cls(
            id=merchant.id,
            slug=merchant.slug,
            name=merchant.name,
            logo_url=merchant.logo_url if (merchant.logo_url or "").startswith(("https://", "http://", "/")) else None,
            brand=brand,
            brand_text="#ffffff",
            currency=merchant.default_currency,
            language=i18n.normalize(merchant.default_language),
        )

    @property
    def home(self) -> str:
        return f"/s/{self.slug}/"


def _channels(color: str) -> tuple[int, int, int]:
    value = color.lstrip("#")
    if len(value) == 3:
        value = "".join(char * 2 for char in value)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _luminance(rgb: tuple[int, int, int]) -> float:
    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.03928 else float(((c + 0.055) / 1.055) ** 2.4)

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_with_white(color: str) -> float:
    return 1.05 / (_luminance(_channels(color)) + 0.05)


def readable_on_white(color: str) -> str:
    """The shop's colour, darkened just enough for white text on it and for it as text on white
    to reach the WCAG AA contrast of 4.5:1."""
    r, g, b = _channels(color)
    for _ in range(40):
        candidate = f"#{r:02x}{g:02x}{b:02x}"
        if contrast_with_white(candidate) >= 4.5:
            return candidate
        r, g, b = int(r * 0.9), int(g * 0.9), int(b * 0.9)
    return "#000000"


def language_for(request: Request, shop: Shop | None = None) -> str:
    """The page language: ``?lang=`` (remembered in the session), then the remembered choice,
    then the browser's ``Accept-Language``, then the shop's language."""
    asked = request.query_params.get("lang")
    if asked in i18n.LANGUAGES:
        request.session[LANGUAGE_SESSION_KEY] = asked
        return str(asked)
    chosen = request.session.get(LANGUAGE_SESSION_KEY)
    if chosen in i18n.LANGUAGES:
        return str(chosen)
    return i18n.negotiate(request.headers.get("accept-language"), default=shop.language if shop else "fr")


def gettext(language: str, message: str, **variables: Any) -> str:
    text = i18n.gettext(language, message, "portal")
    return text % variables if variables else text


# The portal's forms post to addresses that have no page of their own; each belongs to a page.
_FORM_PAGES = (
    (re.compile(r"^(/s/[^/]+)/(?:lookup|leave)$"), r"\1/"),
    (re.compile(r"^(/s/[^/]+/orders/[^/]+)/items$"), r"\1"),
    (re.compile(r"^(/s/[^/]+/orders/[^/]+)/confirm$"), r"\1/review"),
    (re.compile(r"^(/s/[^/]+/r/[^/]+)/(?:cancel|parcel|shipments/[^/]+/pickup)$"), r"\1"),
)


def page_path(path: str) -> str:
    """The page a form's address belongs to (the lookup, the order, the review, the status
    page), which a plain link can open; any other path is its own page."""
    for pattern, page in _FORM_PAGES:
        if pattern.match(path):
            return pattern.sub(page, path)
    return path


def language_url(request: Request, language: str, page_url: str | None = None) -> str:
    """The same step in another language, always a page a link can open: a page drawn in answer
    to a form shows the form's page (``page_url`` when the view knows better, such as the
    lookup's mode), never the address the form posted to."""
    if page_url is None:
        page_url = request.url.path if request.method == "GET" else page_path(request.url.path)
        if request.method == "GET" and request.url.query:
            page_url += f"?{request.url.query}"
    url = URL(page_url).remove_query_params(["lang"]).include_query_params(lang=language)
    return f"{url.path}?{url.query}"


def portal_token(request: Request, shop: Shop) -> str | None:
    tokens = request.session.get(PORTAL_SESSION_KEY) or {}
    token = tokens.get(str(shop.id)) if isinstance(tokens, dict) else None
    return str(token) if token else None


def remember_portal_token(request: Request, shop: Shop, token: str | None) -> None:
    tokens = dict(request.session.get(PORTAL_SESSION_KEY) or {})
    if token:
        tokens[str(shop.id)] = token
    else:
        tokens.pop(str(shop.id), None)
    request.session[PORTAL_SESSION_KEY] = tokens


def render(
    request: Request,
    shop: Shop | None,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    language: str | None = None,
    status_code: int = 200,
    page_url: str | None = None,
) -> Response:
    """Draw a portal page. ``page_url``: the page to offer in the other language when the
    request's own address is not one (a form's answer)."""
    language = language or language_for(request, shop)
    full = {
        "shop": shop,
        "labels": LABELS,
        "problem_messages": PROBLEM_MESSAGES,
        "language_urls": {code: language_url(request, code, page_url) for code in i18n.LANGUAGES},
        "in_language": lambda en, fr: fr if language == "fr" else en,
        "path": request.url.path,
        **(context or {}),
    }
    response: Response = PAGES.render(request, name, full, language=language, status_code=status_code)
    response.headers["Content-Language"] = language
    response.headers["Cache-Control"] = "no-store"
    return response
