"""The stock locations screen (admins): the shop's warehouses and stores with their address, the
countries they serve (parcels from there come back to them), the default location and whether
each is active; a location is added or edited here. A refused field is named on the form, shown
back with what was typed, and nothing is written."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from retour.backoffice.deps import CsrfChecked, DbSession, SettingsAdmin, Staff
from retour.backoffice.pages import N_, flash, gettext, render
from retour.inventory import service as inventory_service
from retour.inventory.schemas import LocationIn
from retour.kit.countries import unknown_countries
from retour.kit.errors import Conflict, InvalidInput
from retour.kit.web import PathId
from retour.models import StockLocation

router = APIRouter()
LOCATIONS = "/backoffice/settings/locations"
FIELD_MAX_LENGTH = 2000
ADDRESS_LINE_MAX_LENGTH = 200
ADDRESS_MAX_LINES = 4
_SEPARATORS = re.compile(r"[\s,;]+")

KIND_LABELS = {"warehouse": N_("Warehouse"), "store": N_("Store")}
FIELD_MESSAGES = {
    "code": N_("Code: letters, digits, dashes and underscores, starting with a letter or a digit (40 at most)."),
    "name": N_("Name: give the location a name (200 characters at most)."),
    "kind": N_("Kind: choose warehouse or store."),
    "address_lines": N_("Address: 4 lines of 200 characters at most."),
    "postal_code": N_("Postal code: 20 characters at most."),
    "city": N_("City: 100 characters at most."),
    "country": N_("Country: %(codes)s is not an ISO 3166 two-letter country code (e.g. FR)."),
    "countries_served": N_("Countries served: %(codes)s: not ISO 3166 two-letter country codes (e.g. FR, BE)."),
}
SERVICE_MESSAGES = {
    "location_exists": N_("Code: another location already uses %(code)s."),
    "location_code_fixed": N_("Code: a location's code cannot change."),
    "default_location_required": N_(
        "Default: the shop needs a default location; make another one the default instead."
    ),
    "default_location_inactive": N_("Active: the default location stays active; make another one the default first."),
}
_PYDANTIC_FIELDS = {
    ("code",): "code",
    ("name",): "name",
    ("kind",): "kind",
    ("address", "lines"): "address_lines",
    ("address", "postal_code"): "postal_code",
    ("address", "city"): "city",
    ("address", "country"): "country",
    ("countries_served",): "countries_served",
}


class FormRefused(Exception):
    """The form's fields that were refused, with their messages in the page language."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(", ".join(errors))
        self.errors = errors


@router.get("/settings/locations")
def locations_page(request: Request, session: DbSession, staff: SettingsAdmin) -> Response:
    return _list_page(request, session, staff)


@router.post("/settings/locations")
async def create_location(request: Request, session: DbSession, staff: SettingsAdmin, _csrf: CsrfChecked) -> Response:
    form = await _form(request)
    try:
        data = parse_location(request, form)
        location = inventory_service.create_location(session, staff.merchant_id, data, actor=staff.actor)
    except FormRefused as refused:
        return _list_page(request, session, staff, form={**form, "errors": refused.errors}, status_code=422)
    except (Conflict, InvalidInput) as error:
        errors = _service_errors(request, error, form)
        return _list_page(request, session, staff, form={**form, "errors": errors}, status_code=error.status)
    flash(request, gettext(request, N_("The location %(code)s is added."), code=location.code))
    return RedirectResponse(LOCATIONS, status_code=303)


@router.get("/settings/locations/{location_id:int}")
def edit_page(request: Request, location_id: PathId, session: DbSession, staff: SettingsAdmin) -> Response:
    location = inventory_service.get_location_by_id(session, staff.merchant_id, location_id)
    return _edit_page(request, staff, location, _form_of(location))


@router.post("/settings/locations/{location_id:int}")
async def update_location(
    request: Request, location_id: PathId, session: DbSession, staff: SettingsAdmin, _csrf: CsrfChecked
) -> Response:
    location = inventory_service.get_location_by_id(session, staff.merchant_id, location_id)
    form = {**await _form(request), "code": location.code}
    try:
        data = parse_location(request, form)
        inventory_service.update_location(
            session, staff.merchant_id, location_id, data, is_active=form["is_active"] == "on", actor=staff.actor
        )
    except FormRefused as refused:
        return _edit_page(request, staff, location, {**form, "errors": refused.errors}, status_code=422)
    except (Conflict, InvalidInput) as error:
        errors = _service_errors(request, error, form)
        return _edit_page(request, staff, location, {**form, "errors": errors}, status_code=error.status)
    flash(request, gettext(request, N_("The location %(code)s is saved."), code=location.code))
    return RedirectResponse(LOCATIONS, status_code=303)


async def _form(request: Request) -> dict[str, str]:
    posted = await request.form()
    names = ("code", "name", "kind", "address_lines", "postal_code", "city", "country", "countries_served")
    form = {name: str(posted.get(name) or "")[:FIELD_MAX_LENGTH] for name in names}
    form["is_default"] = "on" if posted.get("is_default") else ""
    form["is_active"] = "on" if posted.get("is_active") else ""
    return form


def parse_location(request: Request, form: dict[str, str]) -> LocationIn:
    """The form as the API's ``LocationIn``; every refused field named at once (``FormRefused``)."""
    errors: dict[str, str] = {}
    lines = [line.strip() for line in form["address_lines"].splitlines() if line.strip()]
    if len(lines) > ADDRESS_MAX_LINES or any(len(line) > ADDRESS_LINE_MAX_LENGTH for line in lines):
        errors["address_lines"] = gettext(request, FIELD_MESSAGES["address_lines"])
    served = [code for code in _SEPARATORS.split(form["countries_served"].upper()) if code]
    if unknown_countries(served):
        errors["countries_served"] = _countries_message(request, "countries_served", unknown_countries(served))
    country = form["country"].strip().upper()
    if country and unknown_countries([country]):
        errors["country"] = _countries_message(request, "country", [country])
    raw = {
        "code": form["code"],
        "name": form["name"],
        "kind": form["kind"] or "warehouse",
        "address": {
            "lines": lines[:ADDRESS_MAX_LINES],
            "postal_code": form["postal_code"],
            "city": form["city"],
            "country": "" if "country" in errors else country,
        },
        "countries_served": [] if "countries_served" in errors else served,
        "is_default": form["is_default"] == "on",
    }
    try:
        data = LocationIn.model_validate(raw)
    except ValidationError as error:
        for problem in error.errors():
            field = _field_of(tuple(problem["loc"]))
            errors.setdefault(field, gettext(request, FIELD_MESSAGES.get(field, N_("This field is not valid."))))
        raise FormRefused(errors) from None
    if errors:
        raise FormRefused(errors)
    return data


def _field_of(loc: tuple[Any, ...]) -> str:
    for length in (2, 1):
        if loc[:length] in _PYDANTIC_FIELDS:
            return _PYDANTIC_FIELDS[loc[:length]]
    return str(loc[0]) if loc else "name"


def _countries_message(request: Request, field: str, codes: list[str]) -> str:
    shown = ", ".join(code[:10] for code in codes[:10])
    return gettext(request, FIELD_MESSAGES[field], codes=shown)


def _service_errors(request: Request, error: Conflict | InvalidInput, form: dict[str, str]) -> dict[str, str]:
    if error.code == "unknown_country":
        codes = error.extra.get("unknown") or [form["country"].strip().upper()]
        return {str(error.field): _countries_message(request, str(error.field), list(codes))}
    message = SERVICE_MESSAGES.get(error.code)
    text = gettext(request, message, code=form["code"].strip().upper()) if message else gettext(request, error.detail)
    return {error.field or "name": text}


def _form_of(location: StockLocation) -> dict[str, Any]:
    address = location.address or {}
    return {
        "code": location.code,
        "name": location.name,
        "kind": location.kind,
        "address_lines": "\n".join(address.get("lines") or []),
        "postal_code": address.get("postal_code", ""),
        "city": address.get("city", ""),
        "country": address.get("country", ""),
        "countries_served": ", ".join(location.countries_served),
        "is_default": "on" if location.is_default else "",
        "is_active": "on" if location.is_active else "",
        "errors": {},
    }


def _empty_form() -> dict[str, Any]:
    names = ("code", "name", "address_lines", "postal_code", "city", "country", "countries_served", "is_default")
    return {**{name: "" for name in names}, "kind": "warehouse", "is_active": "on", "errors": {}}


def _list_page(
    request: Request, session: Session, staff: Staff, *, form: dict[str, Any] | None = None, status_code: int = 200
) -> Response:
    context = {
        "section": "settings",
        "settings_page": "locations",
        "locations": inventory_service.list_locations(session, staff.merchant_id, include_inactive=True),
        "kinds": KIND_LABELS,
        "form": form or _empty_form(),
    }
    return render(request, "backoffice/settings_locations.html", context, staff=staff, status_code=status_code)


def _edit_page(
    request: Request, staff: Staff, location: StockLocation, form: dict[str, Any], *, status_code: int = 200
) -> Response:
    context = {
        "section": "settings",
        "settings_page": "locations",
        "location": location,
        "kinds": KIND_LABELS,
        "form": form,
    }
    return render(request, "backoffice/settings_location.html", context, staff=staff, status_code=status_code)
