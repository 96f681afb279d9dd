"""The warehouse screens: scan a parcel, receive it, inspect one unit at a time, dispose of it,
work the queues, look at the stock and the second-hand listings.

Views stay thin: parse the form, check the role, call the receiving, inspection, inventory and
resale services, render. A refusal by a service is shown on the page it came from (with its
status code and nothing written), never as a crash."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile
from starlette.responses import Response

from retour.backoffice.deps import CsrfChecked, DbSession, Staff, WarehouseViewer, WarehouseWorker
from retour.backoffice.pages import AREA, N_, flash, gettext, language_for, render
from retour.inventory import service as inventory_service
from retour.kit import i18n
from retour.kit.errors import InvalidInput, NotFound, RetourError
from retour.kit.web import PathId
from retour.photo import rules as photo_rules
from retour.receiving import inspection
from retour.receiving import rules as receiving_rules
from retour.receiving import service as receiving_service
from retour.resale import service as resale_service
from retour.return_request import service as return_request_service

router = APIRouter(prefix="/warehouse")
BASE = "/backoffice/warehouse"
PAGE_SIZE = 50
MAX_QUANTITY = 10_000

GRADE_LABELS = {
    "new": N_("New"),
    "open_box": N_("Open box"),
    "used": N_("Used"),
    "lightly_damaged": N_("Lightly damaged"),
    "heavily_damaged": N_("Heavily damaged"),
    "defective": N_("Defective"),
    "wrong_item": N_("Wrong item"),
    "missing": N_("Missing"),
}
OUTCOME_LABELS = {
    "as_expected": N_("As expected"),
    "partial": N_("Partial parcel"),
    "empty_box": N_("Empty box"),
    "wrong_item": N_("Wrong item"),
    "unexpected_items": N_("Unexpected items"),
}
UNIT_STATUS_LABELS = {
    "awaiting_inspection": N_("To inspect"),
    "inspected": N_("To dispose"),
    "in_repair": N_("In repair"),
    "in_refurbishment": N_("In refurbishment"),
    "done": N_("Done"),
}
QUEUE_LABELS = {
    "awaiting_parcel": N_("Awaiting parcel"),
    "to_inspect": N_("To inspect"),
    "to_dispose": N_("To dispose"),
    "workshop": N_("Repair and refurbishment"),
    "done": N_("Done"),
}
WAREHOUSE_LABELS = {"grade": GRADE_LABELS, "outcome": OUTCOME_LABELS, "unit_status": UNIT_STATUS_LABELS}
REPAIR_GRADES = tuple(grade for grade in receiving_rules.GRADES if grade not in ("wrong_item", "missing"))
FINAL_DISPOSITIONS = tuple(d for d in receiving_rules.DISPOSITIONS if d not in receiving_rules.WORKSHOP)


def _context(request: Request, **values: Any) -> dict[str, Any]:
    language = language_for(request)
    return {
        "section": "warehouse",
        "wlabels": WAREHOUSE_LABELS,
        "dispositions": {d: receiving_rules.disposition_name(d, language) for d in receiving_rules.DISPOSITIONS},
        **values,
    }


def error_message(request: Request, error: RetourError) -> str:
    """A service's refusal in the page language: the French the warehouse rules give, else the
    catalog's translation of the English message."""
    language = language_for(request)
    extra = error.extra if isinstance(error.extra, dict) else {}
    # The warehouse rules say it as ``fr``, the photo service as ``message_fr``.
    french = extra.get("fr") or extra.get("message_fr")
    if language == "fr" and isinstance(french, str) and french:
        return french
    return i18n.gettext(language, error.detail, AREA)


# ---- Scan and queue counts -----------------------------------------------------------------------


@router.get("")
def scan_page(request: Request, session: DbSession, staff: WarehouseViewer) -> Response:
    return _scan_page(request, session, staff)


def _scan_page(
    request: Request, session: Session, staff: Staff, *, error: str | None = None, status_code: int = 200
) -> Response:
    counts = receiving_service.queue_counts(session, staff.merchant_id)
    queues = [
        ("awaiting_parcel", N_("Awaiting parcel"), counts.awaiting_parcel, f"{BASE}/queues/awaiting_parcel"),
        ("to_inspect", N_("To inspect"), counts.to_inspect, f"{BASE}/queues/to_inspect"),
        ("to_dispose", N_("To dispose"), counts.to_dispose, f"{BASE}/queues/to_dispose"),
        ("in_repair", N_("In repair"), counts.in_repair, f"{BASE}/queues/workshop"),
        ("in_refurbishment", N_("In refurbishment"), counts.in_refurbishment, f"{BASE}/queues/workshop"),
        ("active_listings", N_("Active listings"), counts.active_listings, f"{BASE}/listings"),
    ]
    context = _context(request, queues=queues, error=error)
    return render(request, "backoffice/warehouse/scan.html", context, staff=staff, status_code=status_code)


@router.get("/scan")
def scan(request: Request, session: DbSession, staff: WarehouseViewer, code: str = "") -> Response:
    """What the scanner typed (then Enter): the return opens, or the scan page says why not."""
    code = code.strip()[:200]
    if not code:
        return RedirectResponse(BASE, status_code=303)
    try:
        found = receiving_service.find_return_for_scan(session, staff.merchant_id, code)
    except NotFound:
        message = gettext(request, N_("No return matches the code “%(code)s”. Scan again."), code=code)
        return _scan_page(request, session, staff, error=message, status_code=404)
    return RedirectResponse(f"{BASE}/returns/{found.request.id}", status_code=303)


# ---- Receiving -----------------------------------------------------------------------------------


@router.get("/returns/{return_id:int}")
def receive_page(request: Request, return_id: PathId, session: DbSession, staff: WarehouseViewer) -> Response:
    return _receive_page(request, session, staff, return_id)


def _receive_page(
    request: Request,
    session: Session,
    staff: Staff,
    return_id: PathId,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    found = return_request_service.get_return(session, staff.merchant_id, return_id)
    result = receiving_service.find_return_for_scan(session, staff.merchant_id, found.number)
    scanned = receiving_service.describe_scan(session, staff.merchant_id, result)
    context = _context(
        request,
        scan=scanned,
        receivable=found.status in receiving_service.RECEIVABLE,
        error=error,
        form=form or {},
        outcomes=receiving_rules.OUTCOMES,
    )
    return render(request, "backoffice/warehouse/receive.html", context, staff=staff, status_code=status_code)


@router.post("/returns/{return_id:int}/receive")
async def receive(
    request: Request, return_id: PathId, session: DbSession, staff: WarehouseWorker, _csrf: CsrfChecked
) -> Response:
    form = await request.form()
    values = {key: str(value) for key, value in form.items() if isinstance(value, str)}
    try:
        lines = [
            (int(key.removeprefix("qty_")), quantity)
            for key, value in values.items()
            if key.startswith("qty_") and (quantity := _quantity(value, key))
        ]
        unexpected_sku = values.get("unexpected_sku", "").strip()[:100]
        unexpected_qty = _quantity(values.get("unexpected_qty", ""), "unexpected_qty")
        unexpected = [(unexpected_sku, unexpected_qty or 1)] if unexpected_sku else []
        outcome = values.get("outcome", "").strip() or None
        if outcome is not None and outcome not in receiving_rules.OUTCOMES:
            raise InvalidInput(f"unknown outcome '{outcome}'", field="outcome")
        receipt = receiving_service.receive_parcel(
            session,
            staff.merchant_id,
            return_id,
            actor=staff.actor,
            lines=lines,
            unexpected=unexpected,
            weight_grams=_weight_grams(values.get("weight_grams", "")),
            outcome=outcome,
            notes=values.get("notes", "").strip()[:2000],
        )
    except (RetourError, ValueError) as error:
        session.rollback()
        message = error_message(request, error) if isinstance(error, RetourError) else str(error)
        status = error.status if isinstance(error, RetourError) else 422
        return _receive_page(request, session, staff, return_id, error=message, form=values, status_code=status)
    units = sum(line.quantity for line in receipt.lines if line.return_line_id is not None)
    flash(request, gettext(request, N_("Parcel received: %(count)s unit(s) to inspect."), count=units))
    return RedirectResponse(f"{BASE}/returns/{return_id}", status_code=303)


def _quantity(value: str, field: str) -> int:
    text = value.strip()
    if not text:
        return 0
    if not text.isdigit() or int(text) > MAX_QUANTITY:
        raise InvalidInput(f"'{text[:20]}' is not a quantity", field=field, code="invalid_quantity")
    return int(text)


def _weight_grams(value: str) -> int | None:
    text = value.strip().replace(",", ".")
    if not text:
        return None
    try:
        grams = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"'{text[:20]}' is not a weight in grams", field="weight_grams") from None
    if not grams.is_finite() or grams < 0 or grams > 1_000_000:
        raise InvalidInput(f"'{text[:20]}' is not a weight in grams", field="weight_grams")
    return int(grams.to_integral_value())


def _measured(value: str) -> Decimal | None:
    text = value.strip().replace(",", ".")
    if not text:
        return None
    try:
        grams = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"'{text[:20]}' is not a weight in grams", field="measured_weight_grams") from None
    if not grams.is_finite() or grams < 0 or grams > 1_000_000:
        raise InvalidInput(f"'{text[:20]}' is not a weight in grams", field="measured_weight_grams")
    return grams


# ---- Inspection and disposition ------------------------------------------------------------------


@router.get("/units/{unit_id:int}")
def unit_page(request: Request, unit_id: PathId, session: DbSession, staff: WarehouseViewer) -> Response:
    return _unit_page(request, session, staff, unit_id)


def _unit_page(
    request: Request,
    session: Session,
    staff: Staff,
    unit_id: PathId,
    *,
    error: str | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    unit = receiving_service.get_unit(session, staff.merchant_id, unit_id)
    described = receiving_service.describe_units(session, staff.merchant_id, [unit])[0]
    request_ = return_request_service.get_return(session, staff.merchant_id, unit.return_request_id)
    locations = inventory_service.list_locations(session, staff.merchant_id)
    routed = None
    if unit.status in ("inspected", "in_repair", "in_refurbishment") and unit.accepted and locations:
        settings = receiving_service.warehouse_settings(session, staff.merchant_id)
        try:
            routed = inventory_service.route_restock(
                session, staff.merchant_id, unit.sku, fixed_location=settings.restock_location
            )
        except RetourError:
            routed = None
    context = _context(
        request,
        unit=described,
        number=request_.number,
        error=error,
        form=form or {},
        grades=receiving_rules.GRADES,
        repair_grades=REPAIR_GRADES,
        final_dispositions=FINAL_DISPOSITIONS,
        locations=locations,
        routed=routed,
        next_url=_next_unit_url(session, staff.merchant_id, unit.return_request_id, unit_id),
        photos=[(reference, _photo_url(unit_id, reference)) for reference in unit.photos],
        photo_max_mb=photo_rules.MAX_BYTES // 2**20,
    )
    return render(request, "backoffice/warehouse/unit.html", context, staff=staff, status_code=status_code)


def _photo_url(unit_id: int, reference: str) -> str | None:
    """Where the page shows a photo stored at the bench; None for a reference kept elsewhere."""
    if receiving_service.PHOTO_REFERENCE.fullmatch(reference) is None:
        return None
    return f"{BASE}/units/{unit_id}/photos/{reference.removeprefix('photos/')}"


def _next_unit_url(session: Session, merchant_id: int, return_id: int, current: int) -> str | None:
    """The next unit of the same return still on the bench, else the oldest unit to inspect."""
    for unit in receiving_service.units_of_return(session, merchant_id, return_id):
        if unit.id != current and unit.status in ("awaiting_inspection", "inspected"):
            return f"{BASE}/units/{unit.id}"
    page = receiving_service.list_units(session, merchant_id, statuses=("awaiting_inspection",), limit=2)
    other = next((unit for unit in page.items if unit.id != current), None)
    return f"{BASE}/units/{other.id}" if other else None


async def _form(request: Request) -> dict[str, str]:
    form: FormData = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _refused(
    request: Request, session: Session, staff: Staff, unit_id: int, error: Exception, form: dict[str, str]
) -> Response:
    session.rollback()
    if isinstance(error, RetourError):
        if error.status == 404 and error.code == "not_found":
            raise error
        return _unit_page(
            request, session, staff, unit_id, error=error_message(request, error), form=form, status_code=error.status
        )
    return _unit_page(request, session, staff, unit_id, error=str(error), form=form, status_code=422)


@router.post("/units/{unit_id:int}/inspect")
async def inspect(
    request: Request, unit_id: PathId, session: DbSession, staff: WarehouseWorker, _csrf: CsrfChecked
) -> Response:
    form = await _form(request)
    uploads = await _photos(request)
    answers = {
        key.removeprefix("answer_"): value == "yes"
        for key, value in form.items()
        if key.startswith("answer_") and value in ("yes", "no")
    }
    try:
        unit = inspection.record_inspection(
            session,
            staff.merchant_id,
            unit_id,
            grade=form.get("grade", ""),
            answers=answers,
            actor=staff.actor,
            measured_weight_grams=_measured(form.get("measured_weight_grams", "")),
            notes=form.get("notes", "").strip()[:2000],
        )
        # In the same transaction: a photo refused undoes the inspection, shown again with its answers.
        receiving_service.add_inspection_photos(
            session,
            staff.merchant_id,
            unit_id,
            uploads,
            actor=staff.actor,
            storage_dir=request.app.state.settings.storage_dir,
        )
    except RetourError as error:
        return _refused(request, session, staff, unit_id, error, form)
    message = N_("Unit accepted.") if unit.accepted else N_("Unit rejected.")
    flash(request, gettext(request, message), kind="success" if unit.accepted else "error")
    return RedirectResponse(f"{BASE}/units/{unit_id}", status_code=303)


async def _photos(request: Request) -> list[bytes]:
    """The photos chosen or taken (an empty file input sends one nameless, empty part), each read
    up to one byte past the photo limit: enough for the photo service to refuse it as too large."""
    form: FormData = await request.form()
    return [
        await upload.read(photo_rules.MAX_BYTES + 1)
        for upload in form.getlist("photos")
        if isinstance(upload, UploadFile) and (upload.filename or upload.size)
    ]


@router.get("/units/{unit_id:int}/photos/{name}")
def unit_photo(request: Request, unit_id: PathId, name: str, session: DbSession, staff: WarehouseViewer) -> Response:
    """A stored photo of the unit, for this shop's staff only (another shop's is not found)."""
    data = receiving_service.inspection_photo(
        session, staff.merchant_id, unit_id, name, storage_dir=request.app.state.settings.storage_dir
    )
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"})


@router.post("/units/{unit_id:int}/dispose")
async def dispose(
    request: Request, unit_id: PathId, session: DbSession, staff: WarehouseWorker, _csrf: CsrfChecked
) -> Response:
    form = await _form(request)
    try:
        unit = inspection.dispose_unit(
            session,
            staff.merchant_id,
            unit_id,
            actor=staff.actor,
            disposition=form.get("disposition") or None,
            reason=form.get("reason", "").strip()[:500] or None,
            location_code=form.get("location_code") or None,
        )
    except RetourError as error:
        return _refused(request, session, staff, unit_id, error, form)
    _flash_done(request, session, staff, unit.final_disposition or unit.disposition or "", unit.stock_location_id)
    return RedirectResponse(f"{BASE}/units/{unit_id}", status_code=303)


@router.post("/units/{unit_id:int}/repair")
async def repair(
    request: Request, unit_id: PathId, session: DbSession, staff: WarehouseWorker, _csrf: CsrfChecked
) -> Response:
    form = await _form(request)
    back = form.get("back", "")
    try:
        unit = inspection.complete_repair(
            session,
            staff.merchant_id,
            unit_id,
            final_disposition=form.get("final_disposition", ""),
            actor=staff.actor,
            grade=form.get("grade") or None,
            location_code=form.get("location_code") or None,
            notes=form.get("notes", "").strip()[:2000],
        )
    except RetourError as error:
        return _refused(request, session, staff, unit_id, error, form)
    _flash_done(request, session, staff, unit.final_disposition or "", unit.stock_location_id)
    target = back if back.startswith(f"{BASE}/") and "//" not in back else f"{BASE}/units/{unit_id}"
    return RedirectResponse(target, status_code=303)


def _flash_done(request: Request, session: Session, staff: Staff, disposition: str, location_id: int | None) -> None:
    name = receiving_rules.disposition_name(disposition, language_for(request)) if disposition else ""
    locations = inventory_service.locations_by_ids(session, staff.merchant_id, {location_id} if location_id else set())
    if location_id in locations:
        where = locations[location_id]
        flash(
            request,
            gettext(request, N_("Done: %(what)s at %(where)s."), what=name, where=f"{where.name} ({where.code})"),
        )
    else:
        flash(request, gettext(request, N_("Done: %(what)s."), what=name))


# ---- Queues --------------------------------------------------------------------------------------


@router.get("/queues/{name}")
def queue(request: Request, name: str, session: DbSession, staff: WarehouseViewer, cursor: str = "") -> Response:
    if name == "listings":
        return RedirectResponse(f"{BASE}/listings", status_code=303)
    if name not in QUEUE_LABELS:
        raise NotFound("no such queue")
    counts = receiving_service.queue_counts(session, staff.merchant_id)
    context: dict[str, Any]
    if name == "awaiting_parcel":
        page = receiving_service.list_awaiting_parcel(
            session, staff.merchant_id, cursor=cursor or None, limit=PAGE_SIZE
        )
        described = return_request_service.describe_returns(session, staff.merchant_id, page.items)
        context = _context(request, returns=described, units=None, count=counts.awaiting_parcel)
    else:
        unit_page = receiving_service.list_units(
            session,
            staff.merchant_id,
            statuses=receiving_service.UNIT_QUEUES[name],
            cursor=cursor or None,
            limit=PAGE_SIZE,
        )
        page_units = receiving_service.describe_units(session, staff.merchant_id, unit_page.items, with_checklist=False)
        total = {
            "to_inspect": counts.to_inspect,
            "to_dispose": counts.to_dispose,
            "workshop": counts.in_repair + counts.in_refurbishment,
        }.get(name)
        context = _context(request, returns=None, units=page_units, count=total)
        page = unit_page  # type: ignore[assignment]
    context.update(
        name=name,
        title=QUEUE_LABELS[name],
        older_url=f"{BASE}/queues/{name}?cursor={page.next_cursor}" if page.next_cursor else None,
        locations=inventory_service.list_locations(session, staff.merchant_id),
        repair_grades=REPAIR_GRADES,
        final_dispositions=FINAL_DISPOSITIONS,
        queue_names=QUEUE_LABELS,
    )
    return render(request, "backoffice/warehouse/queue.html", context, staff=staff)


# ---- Stock and listings --------------------------------------------------------------------------


@router.get("/stock")
def stock_page(request: Request, session: DbSession, staff: WarehouseViewer, sku: str = "") -> Response:
    sku = sku.strip()[:100]
    levels = inventory_service.stock(session, staff.merchant_id, sku) if sku else None
    movements = inventory_service.list_movements(session, staff.merchant_id, sku=sku or None, limit=50)
    context = _context(
        request,
        sku=sku,
        levels=levels,
        movements=movements,
        locations=inventory_service.list_locations(session, staff.merchant_id),
    )
    return render(request, "backoffice/warehouse/stock.html", context, staff=staff)


@router.get("/listings")
def listings_page(request: Request, session: DbSession, staff: WarehouseViewer, cursor: str = "") -> Response:
    page = resale_service.list_listings(
        session, staff.merchant_id, status="active", cursor=cursor or None, limit=PAGE_SIZE
    )
    context = _context(
        request,
        listings=[resale_service.listing_out(listing) for listing in page.items],
        count=receiving_service.queue_counts(session, staff.merchant_id).active_listings,
        older_url=f"{BASE}/listings?cursor={page.next_cursor}" if page.next_cursor else None,
    )
    return render(request, "backoffice/warehouse/listings.html", context, staff=staff)


@router.get("/listings/feed.csv")
def feed_csv(session: DbSession, staff: WarehouseViewer) -> Response:
    body = resale_service.feed(session, staff.merchant_id, "csv")
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="listings.csv"', "Cache-Control": "no-store"},
    )


@router.get("/listings/feed.json")
def feed_json(session: DbSession, staff: WarehouseViewer) -> Response:
    body = resale_service.feed(session, staff.merchant_id, "json")
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


@router.post("/listings/{listing_id:int}/{action}")
def close_listing(
    request: Request, listing_id: PathId, action: str, session: DbSession, staff: WarehouseWorker, _csrf: CsrfChecked
) -> Response:
    if action not in ("sold", "withdraw"):
        raise NotFound("no such action")
    try:
        if action == "sold":
            listing = resale_service.mark_sold(session, staff.merchant_id, listing_id, actor=staff.actor)
            flash(request, gettext(request, N_("Listing “%(title)s” marked sold."), title=listing.title))
        else:
            listing = resale_service.withdraw(session, staff.merchant_id, listing_id, actor=staff.actor)
            flash(request, gettext(request, N_("Listing “%(title)s” withdrawn."), title=listing.title))
    except RetourError as error:
        session.rollback()
        if error.status == 404:
            raise
        flash(request, error_message(request, error), kind="error")
    return RedirectResponse(f"{BASE}/listings", status_code=303)
