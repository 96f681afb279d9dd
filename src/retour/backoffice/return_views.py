"""The returns screens: the list (filters, search, counts per status, older pages) and one return
(lines, quote, parcels with their carrier scans, timeline, and the decisions the staff member's
role allows, a home pickup moved among them)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from retour.backoffice.deps import CsrfChecked, DbSession, ReturnsDecider, ReturnsViewer
from retour.backoffice.pages import (
    N_,
    PICKUP_SLOT_LABELS,
    STATUS_LABELS,
    STATUS_TABS,
    flash,
    format_day,
    gettext,
    language_for,
    relative_url,
    render,
)
from retour.kit import clock
from retour.kit.errors import Conflict, InvalidInput, NotFound
from retour.kit.web import PathId
from retour.models import ReturnRequest, Shipment, ShipmentEvent
from retour.policy import service as policy_service
from retour.return_request import service as return_service
from retour.return_request.repository import ReturnFilters
from retour.shipment import service as shipment_service
from retour.shipment import tracking

router = APIRouter()
PAGE_SIZE = 25
NOTE_MAX_LENGTH = 2000

Decide = Callable[..., ReturnRequest]
DECISIONS: dict[str, tuple[Decide, str]] = {
    "approve": (return_service.approve_return, N_("Return %(number)s approved.")),
    "reject": (return_service.reject_return, N_("Return %(number)s rejected.")),
    "cancel": (return_service.cancel_return, N_("Return %(number)s cancelled.")),
}


@router.get("/returns")
def list_returns(
    request: Request,
    session: DbSession,
    staff: ReturnsViewer,
    status: str = "",
    review: str = "",
    date_from: str = "",
    date_to: str = "",
    q: str = "",
    cursor: str = "",
) -> Response:
    """Newest first. With htmx (the filter form), only the table is sent back."""
    filters = _filters(status=status, review=review, date_from=date_from, date_to=date_to, q=q)
    page = return_service.list_returns(session, staff.merchant_id, filters, cursor=cursor or None, limit=PAGE_SIZE)
    counts = return_service.count_by_status(session, staff.merchant_id)
    context = {
        "section": "returns",
        "returns": return_service.describe_returns(session, staff.merchant_id, page.items),
        "filters": {"status": status, "review": review == "1", "date_from": date_from, "date_to": date_to, "q": q},
        "older_url": relative_url(request, cursor=page.next_cursor) if page.next_cursor else None,
        "newest_url": relative_url(request, cursor=None) if cursor else None,
        "status_tabs": STATUS_TABS,
        "counts": counts,
        "total": sum(counts.values()),
        "tab_urls": _tab_urls(request),
    }
    partial = request.headers.get("HX-Request") == "true" and not request.headers.get("HX-History-Restore-Request")
    template = "backoffice/_returns_table.html" if partial else "backoffice/returns.html"
    response = render(request, template, context, staff=staff)
    response.headers["Vary"] = "HX-Request"
    return response


def _filters(*, status: str, review: str, date_from: str, date_to: str, q: str) -> ReturnFilters:
    if status and status not in STATUS_LABELS:
        raise InvalidInput(f"unknown status '{status}'", field="status")
    day_from, day_to = _day(date_from, "date_from"), _day(date_to, "date_to")
    return ReturnFilters(
        status=status or None,
        needs_review=True if review == "1" else None,
        created_from=datetime.combine(day_from, time(), tzinfo=UTC) if day_from else None,
        # "to" is inclusive: everything before the next midnight.
        created_to=datetime.combine(day_to + timedelta(days=1), time(), tzinfo=UTC) if day_to else None,
        search=q.strip()[:200] or None,
    )


def _day(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"'{value}' is not a date (YYYY-MM-DD)", field=field) from None


def _tab_urls(request: Request) -> dict[str, str]:
    urls = {code: relative_url(request, status=code, cursor=None) for code in STATUS_TABS}
    urls[""] = relative_url(request, status=None, cursor=None)
    return urls


@dataclass(frozen=True)
class Parcel:
    """One parcel of the return as the page shows it: its carrier scans (oldest first) and
    whether its pickup can still be moved (a home pickup the courier has not collected)."""

    shipment: Shipment
    scans: list[ShipmentEvent]
    can_reschedule: bool


@router.get("/returns/{return_id:int}")
def show_return(request: Request, return_id: PathId, session: DbSession, staff: ReturnsViewer) -> Response:
    request_ = return_service.get_return(session, staff.merchant_id, return_id)
    return render(request, "backoffice/return.html", _return_context(session, staff.merchant_id, request_), staff=staff)


def _return_context(
    session: Session, merchant_id: int, request_: ReturnRequest, *, pickup_form: dict[str, Any] | None = None
) -> dict[str, object]:
    described = return_service.describe_returns(session, merchant_id, [request_], with_timeline=True)[0]
    reasons = {reason.code: reason for reason in policy_service.list_reasons(session, merchant_id)}
    quote_lines = {line.order_line_id: line for line in described.quote.lines}
    parcels = [
        Parcel(
            shipment,
            tracking.events_of(session, merchant_id, shipment.id),
            shipment.method == "home_pickup" and shipment.status == "label_created",
        )
        for shipment in shipment_service.list_shipments(session, merchant_id, request_.id)
    ]
    offered = shipment_service.pickup_slots(clock.now().date()) if any(p.can_reschedule for p in parcels) else []
    return {
        "section": "returns",
        "item": described,
        "reasons": reasons,
        "quote_lines": quote_lines,
        "parcels": parcels,
        "pickup_days": list(dict.fromkeys(slot.date for slot in offered)),
        "pickup_slots": list(dict.fromkeys(slot.slot for slot in offered)),
        "pickup_form": pickup_form or {},
    }


@router.post("/returns/{return_id:int}/{action}")
def decide(
    request: Request,
    return_id: PathId,
    action: str,
    session: DbSession,
    staff: ReturnsDecider,
    _csrf: CsrfChecked,
    note: Annotated[str, Form()] = "",
) -> Response:
    """Approve, reject or cancel, then back to the return with a message. A refusal by the state
    machine is a 409 page with its reason; nothing is changed."""
    if action not in DECISIONS:
        raise NotFound("no such action")
    note = note.strip()
    if len(note) > NOTE_MAX_LENGTH:
        raise InvalidInput(f"the note is too long ({NOTE_MAX_LENGTH} characters at most)", field="note")
    function, message = DECISIONS[action]
    changed = function(session, staff.merchant_id, return_id, actor=staff.actor, note=note or None)
    flash(request, gettext(request, message, number=changed.number))
    return RedirectResponse(f"/backoffice/returns/{return_id}", status_code=303)


@router.post("/returns/{return_id:int}/shipments/{shipment_id:int}/pickup")
def reschedule_pickup(
    request: Request,
    return_id: PathId,
    shipment_id: PathId,
    session: DbSession,
    staff: ReturnsDecider,
    _csrf: CsrfChecked,
    pickup_date: Annotated[str, Form()] = "",
    pickup_slot: Annotated[str, Form()] = "",
) -> Response:
    """Move a home pickup of this return to another offered slot (the customer is told). A parcel
    of another return is not found; a slot not offered (422) or a parcel already collected (409)
    is shown on the return's page, and nothing changes."""
    try:
        day: date | None = date.fromisoformat(pickup_date.strip()[:10])
    except ValueError:
        day = None
    try:
        moved = tracking.reschedule_pickup(
            session,
            staff.merchant_id,
            shipment_id,
            pickup_date=day,
            pickup_slot=pickup_slot.strip()[:10] or None,
            actor=staff.actor,
            return_id=return_id,
        )
    except (InvalidInput, Conflict) as refused:
        message = refused.extra.get("message_fr") if language_for(request) == "fr" else None
        form = {
            "shipment_id": shipment_id,
            "pickup_date": pickup_date,
            "pickup_slot": pickup_slot,
            "field": refused.field,
            "error": gettext(request, N_("The pickup was not moved: %(reason)s."), reason=message or refused.detail),
        }
        request_ = return_service.get_return(session, staff.merchant_id, return_id)
        context = _return_context(session, staff.merchant_id, request_, pickup_form=form)
        return render(request, "backoffice/return.html", context, staff=staff, status_code=refused.status)
    slot = gettext(request, PICKUP_SLOT_LABELS.get(moved.pickup_slot or "", moved.pickup_slot or ""))
    flash(
        request,
        gettext(
            request,
            N_("Pickup moved to %(date)s, %(slot)s."),
            date=format_day(moved.pickup_date, language_for(request)),
            slot=slot,
        ),
    )
    return RedirectResponse(f"/backoffice/returns/{return_id}#parcel-{shipment_id}", status_code=303)
