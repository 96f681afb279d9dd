"""The warehouse settings screen (admins): the second-hand discount per grade, the precision
scale's tolerance and the fixed restock location, saved through the same use case as
``PUT /api/v1/warehouse/settings`` (the shop's disposition rules are kept as they are); and the
inspection checklist each family of products is inspected with (read-only: checklists are
edited through the API). A refused field is named, and nothing changes."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.responses import Response

from retour.backoffice.deps import CsrfChecked, DbSession, SettingsAdmin, Staff
from retour.backoffice.pages import N_, flash, gettext, language_for, render
from retour.backoffice.warehouse_views import GRADE_LABELS
from retour.inventory import service as inventory_service
from retour.kit.errors import NotFound
from retour.receiving import service as receiving_service
from retour.receiving.schemas import RESELLABLE, WarehouseSettings
from retour.resale import rules as resale_rules

router = APIRouter()
WAREHOUSE_SETTINGS = "/backoffice/settings/warehouse"
CHECKLIST_FAMILIES = ("jewelry", "electronics", "apparel", "default")
CATEGORY_MAX_LENGTH = 100
NUMBER_MAX_LENGTH = 20
FAMILY_LABELS = {
    "jewelry": N_("Jewellery"),
    "electronics": N_("Electronics"),
    "apparel": N_("Apparel"),
    "default": N_("Everything else"),
}
MESSAGES = {
    "discount": N_("%(grade)s: a discount is a percentage between 0 and 100."),
    "weight_tolerance_percent": N_("Scale tolerance: a percentage between 0 and 100."),
    "weight_tolerance_minimum_grams": N_("Minimum tolerance: a number of grams between 0 and 1000."),
    "restock_location": N_("Fixed restock location: choose one of the active locations."),
}


@router.get("/settings/warehouse")
def warehouse_settings_page(request: Request, session: DbSession, staff: SettingsAdmin, category: str = "") -> Response:
    return _render(request, session, staff, category=category.strip()[:CATEGORY_MAX_LENGTH])


@router.post("/settings/warehouse")
async def save_warehouse_settings(
    request: Request, session: DbSession, staff: SettingsAdmin, _csrf: CsrfChecked
) -> Response:
    posted = await request.form()
    names = [f"discount_{grade}" for grade in RESELLABLE]
    names += ["weight_tolerance_percent", "weight_tolerance_minimum_grams", "restock_location"]
    form = {name: str(posted.get(name) or "").strip()[: NUMBER_MAX_LENGTH * 3] for name in names}
    current = receiving_service.warehouse_settings(session, staff.merchant_id)
    errors: dict[str, str] = {}
    settings = _parse(request, form, current, errors)
    if settings is not None:
        try:
            receiving_service.update_warehouse_settings(session, staff.merchant_id, settings, actor=staff.actor)
        except NotFound:
            errors["restock_location"] = gettext(request, MESSAGES["restock_location"])
    if errors:
        return _render(request, session, staff, form={**form, "errors": errors}, status_code=422)
    flash(request, gettext(request, N_("The warehouse settings are saved.")))
    return RedirectResponse(WAREHOUSE_SETTINGS, status_code=303)


def _parse(
    request: Request, form: dict[str, str], current: WarehouseSettings, errors: dict[str, str]
) -> WarehouseSettings | None:
    """The settings the form asks for, or None with ``errors`` filled. A discount equal to the
    built-in one is only stored when the shop had set that grade already."""
    discounts: dict[str, Decimal] = {}
    for grade in RESELLABLE:
        value = _number(form[f"discount_{grade}"], Decimal(100))
        if value is None:
            label = gettext(request, GRADE_LABELS[grade])
            errors[f"discount_{grade}"] = gettext(request, MESSAGES["discount"], grade=label)
        elif value != resale_rules.DEFAULT_DISCOUNTS.get(grade) or grade in current.resale_discounts:
            discounts[grade] = value
    percent = _number(form["weight_tolerance_percent"], Decimal(100))
    minimum = _number(form["weight_tolerance_minimum_grams"], Decimal(1000))
    for name, value in (("weight_tolerance_percent", percent), ("weight_tolerance_minimum_grams", minimum)):
        if value is None:
            errors[name] = gettext(request, MESSAGES[name])
    if errors or percent is None or minimum is None:
        return None
    try:
        return WarehouseSettings(
            disposition_rules=current.disposition_rules,
            resale_discounts=discounts,
            restock_location=form["restock_location"][:40] or None,
            weight_tolerance_percent=percent,
            weight_tolerance_minimum_grams=minimum,
        )
    except ValidationError:
        errors["weight_tolerance_percent"] = gettext(request, MESSAGES["weight_tolerance_percent"])
        return None


def _number(text: str, maximum: Decimal) -> Decimal | None:
    """A number typed the French or the English way (``12,5`` or ``12.5``) between 0 and
    ``maximum``, else None."""
    if not text or len(text) > NUMBER_MAX_LENGTH:
        return None
    try:
        value = Decimal(text.replace(",", ".").replace(" ", ""))
    except InvalidOperation:
        return None
    if not value.is_finite() or not Decimal(0) <= value <= maximum:
        return None
    return value


def _shown(value: Decimal) -> str:
    """``10``, ``12.5``: a stored number without trailing zeros."""
    return format(value.normalize(), "f")


def _render(
    request: Request,
    session: Session,
    staff: Staff,
    *,
    form: dict[str, Any] | None = None,
    category: str = "",
    status_code: int = 200,
) -> Response:
    language = language_for(request)
    current = receiving_service.warehouse_settings(session, staff.merchant_id)
    discounts = {**resale_rules.DEFAULT_DISCOUNTS, **current.resale_discounts}
    default_form = {
        **{f"discount_{grade}": _shown(discounts[grade]) for grade in RESELLABLE},
        "weight_tolerance_percent": _shown(current.weight_tolerance_percent),
        "weight_tolerance_minimum_grams": _shown(current.weight_tolerance_minimum_grams),
        "restock_location": current.restock_location or "",
        "errors": {},
    }
    names = [*CHECKLIST_FAMILIES, category.lower()] if category else list(CHECKLIST_FAMILIES)
    checklists = [(name, receiving_service.effective_checklist(session, staff.merchant_id, name)) for name in names]
    context = {
        "section": "settings",
        "settings_page": "warehouse",
        "grades": [(grade, GRADE_LABELS[grade], resale_rules.DEFAULT_DISCOUNTS[grade]) for grade in RESELLABLE],
        "shop_discounts": current.resale_discounts,
        "locations": inventory_service.list_locations(session, staff.merchant_id),
        "form": form or default_form,
        "disposition_rule_count": len(current.disposition_rules),
        "checklists": checklists,
        "family_labels": FAMILY_LABELS,
        "category": category,
        "language": language,
    }
    return render(request, "backoffice/settings_warehouse.html", context, staff=staff, status_code=status_code)
