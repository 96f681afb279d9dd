"""Rendering back-office pages: the page language, flash messages, and the labels of the codes
(statuses, resolutions, methods, timeline actions) that templates translate with ``_()``."""

from __future__ import annotations

from datetime import date
from typing import Any

from babel.dates import format_date
from starlette.requests import Request
from starlette.responses import Response

from retour.backoffice.deps import PERMISSIONS, Staff, signed_in
from retour.kit import i18n
from retour.kit.web import Pages

AREA = "backoffice"
PAGES = Pages(area=AREA)
LANGUAGE_SESSION_KEY = "lang"
FLASH_SESSION_KEY = "flash"


def N_(message: str) -> str:
    """Mark a message for translation where it is defined; templates translate it with ``_()``."""
    return message


STATUS_LABELS = {
    "requested": N_("Requested"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
    "cancelled": N_("Cancelled"),
    "in_progress": N_("In progress"),
    "completed": N_("Completed"),
    "expired": N_("Expired"),
}
STATUS_TABS = ("requested", "approved", "in_progress", "completed", "rejected", "cancelled", "expired")
RESOLUTION_LABELS = {
    "refund": N_("Refund"),
    "store_credit": N_("Store credit"),
    "exchange": N_("Exchange"),
    "keep": N_("Keep the item"),
}
METHOD_LABELS = {
    "prepaid_label": N_("Prepaid label"),
    "drop_off": N_("Drop-off point"),
    "in_store": N_("In store"),
    "home_pickup": N_("Home pickup"),
    "customer_ships": N_("Customer ships"),
}
ACTION_LABELS = {"approve": N_("Approve"), "reject": N_("Reject"), "cancel": N_("Cancel the return")}
TIMELINE_LABELS = {
    "return.requested": N_("Return requested"),
    "return.approved": N_("Approved"),
    "return.rejected": N_("Rejected"),
    "return.cancelled": N_("Cancelled"),
    "return.in_progress": N_("In progress"),
    "return.completed": N_("Completed"),
    "return.expired": N_("Expired"),
    "shipment.label_created": N_("Label created"),
    "shipment.label_requested": N_("Label requested from the carrier"),
    "shipment.label_failed": N_("Label refused by the carrier"),
    "shipment.cancelled": N_("Label cancelled"),
    "shipment.in_transit": N_("Parcel in transit"),
    "shipment.delivered": N_("Parcel delivered"),
    "shipment.exception": N_("Delivery problem reported by the carrier"),
    "shipment.unexpected_scan": N_("Carrier scan on a label no longer valid"),
    "shipment.label_expired": N_("Label expired"),
    "shipment.pickup_rescheduled": N_("Pickup moved"),
}
SHIPMENT_STATUS_LABELS = {
    "label_pending": N_("Label being bought"),
    "label_failed": N_("Label refused"),
    "label_created": N_("Label created"),
    "in_transit": N_("In transit"),
    "delivered": N_("Delivered"),
    "received": N_("Received"),
    "lost": N_("Lost"),
    "label_expired": N_("Label expired"),
    "cancelled": N_("Cancelled"),
}
CARRIER_LABELS = {"builtin": N_("Built-in (labels drawn by Retour)"), "shippo": "Shippo", "easypost": "EasyPost"}
PICKUP_SLOT_LABELS = {"09-12": N_("9:00 to 12:00"), "13-17": N_("13:00 to 17:00")}
SCAN_STATUS_LABELS = {
    "pre_transit": N_("Label scanned"),
    "in_transit": N_("In transit"),
    "delivered": N_("Delivered"),
    "exception": N_("Problem"),
    "unknown": N_("Other"),
}
ROLE_LABELS = {"admin": N_("Administrator"), "agent": N_("Agent"), "warehouse": N_("Warehouse")}
SCOPE_LABELS = {"read": N_("Read"), "write": N_("Write"), "refund": N_("Refund")}
CHANNEL_LABELS = {"api": N_("API"), "portal": N_("Portal"), "backoffice": N_("Back-office")}
LABELS = {
    "status": STATUS_LABELS,
    "resolution": RESOLUTION_LABELS,
    "method": METHOD_LABELS,
    "action": ACTION_LABELS,
    "timeline": TIMELINE_LABELS,
    "role": ROLE_LABELS,
    "scope": SCOPE_LABELS,
    "channel": CHANNEL_LABELS,
    "shipment_status": SHIPMENT_STATUS_LABELS,
    "carrier": CARRIER_LABELS,
    "slot": PICKUP_SLOT_LABELS,
    "scan": SCAN_STATUS_LABELS,
}


def language_for(request: Request) -> str:
    """The page language: a choice made with ``?lang=`` (kept in the session), else the staff
    member's own language, else the browser's."""
    asked = request.query_params.get("lang")
    if asked in i18n.LANGUAGES:
        request.session[LANGUAGE_SESSION_KEY] = asked
        return asked
    chosen = request.session.get(LANGUAGE_SESSION_KEY)
    if chosen in i18n.LANGUAGES:
        return str(chosen)
    staff = signed_in(request)
    if staff and staff.get("language") in i18n.LANGUAGES:
        return str(staff["language"])
    return i18n.negotiate(request.headers.get("accept-language"))


def gettext(request: Request, message: str, **variables: Any) -> str:
    """``message`` in the page language, formatted like ``_()`` in templates."""
    text = i18n.gettext(language_for(request), message, AREA)
    return text % variables if variables else text


def format_day(value: date | None, language: str) -> str:
    """A day written as the pages' ``date`` filter writes it (``3 March 2026``, ``3 mars 2026``)."""
    if value is None:
        return ""
    return str(format_date(value, "d MMMM y", locale="fr_FR" if language == "fr" else "en_GB"))


def relative_url(request: Request, **params: Any) -> str:
    """This page's path and query with ``params`` replaced (``None`` removes one): for links."""
    url = request.url.remove_query_params([name for name, value in params.items() if value is None])
    url = url.include_query_params(**{name: value for name, value in params.items() if value is not None})
    return f"{url.path}?{url.query}" if url.query else url.path


def flash(request: Request, message: str, *, kind: str = "success") -> None:
    """A message for the next page shown (after a redirect)."""
    request.session[FLASH_SESSION_KEY] = {"message": message, "kind": kind}


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    staff: Staff | None = None,
    status_code: int = 200,
) -> Response:
    language = language_for(request)
    flashed = request.session.pop(FLASH_SESSION_KEY, None)
    permissions = {permission for permission, roles in PERMISSIONS.items() if staff and staff.role in roles}
    base: dict[str, Any] = {
        "staff": staff,
        "can": permissions,
        "flash": flashed,
        "labels": LABELS,
        "switch_language": {code: relative_url(request, lang=code) for code in i18n.LANGUAGES},
    }
    response: Response = PAGES.render(
        request, name, {**base, **(context or {})}, language=language, status_code=status_code
    )
    response.headers["Cache-Control"] = "no-store"
    return response
