"""The customer portal at ``/s/{shop}/``: find the order, choose, confirm, follow the return.

Every page works as plain HTML forms with POST-redirect-GET; htmx only adds the live quote.
Views parse, authorize (the portal session is bound to one order; status pages need their signed
link), call one service function and render. Errors become a portal page in one place."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from retour.kit import clock, i18n
from retour.kit.errors import Conflict, InvalidInput, NotFound, Refused, RetourError
from retour.kit.web import PathId, check_csrf
from retour.merchant import service as merchant_service
from retour.portal import service, status
from retour.portal.deps import MAX_PHOTO_FORM_MB, DbSession, Form, PhotoForm
from retour.portal.pages import (
    N_,
    PICKUP_FIELD_LABELS,
    Shop,
    gettext,
    language_for,
    page_path,
    portal_token,
    remember_portal_token,
    render,
)
from retour.portal.schemas import ItemChoice, LookupIn, OptionsIn

router = APIRouter(prefix="/s/{slug}", include_in_schema=False)
MAX_UPLOAD_BYTES = (service.PHOTO_MAX_MB + 2) * 2**20
"""Read at most this much of one file: enough for the photo checks to refuse it as too large."""


def _shop(request: Request, session: Any, slug: str) -> Shop:
    shop = Shop.of(merchant_service.get_merchant_by_slug(session, slug))
    request.state.portal_shop = shop
    return shop


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _int(value: str, default: int = 0) -> int:
    try:
        return int(value)
    except ValueError:
        return default


def _access(request: Request, session: Any, shop: Shop, order_id: int) -> service.PortalAccess:
    return service.access_order(session, shop.id, portal_token(request, shop), order_id)


def _secret(request: Request) -> str:
    return str(request.app.state.settings.secret_key)


def status_url(request: Request, shop: Shop, return_id: int) -> str:
    return f"/s/{shop.slug}/r/{status.status_token(_secret(request), shop.id, return_id)}"


# ---- Lookup (C1) ---------------------------------------------------------------------------------


@router.get("")
def portal_root(slug: str) -> RedirectResponse:
    return RedirectResponse(f"/s/{slug}/", status_code=307)


@router.get("/")
def lookup_page(request: Request, slug: str, session: DbSession, mode: str = "email", expired: int = 0) -> Response:
    shop = _shop(request, session, slug)
    current = service.session_order_id(session, shop.id, portal_token(request, shop))
    return _lookup(
        request,
        shop,
        LookupIn(mode=mode if mode in ("email", "postal_code", "gift") else "email"),
        {
            "current_order_id": current,
            "expired": bool(expired),
        },
    )


def _lookup(request: Request, shop: Shop, data: LookupIn, extra: dict[str, Any], *, status_code: int = 200) -> Response:
    context = {"data": data, "errors": {}, "form_error": None, **extra}
    page_url = None if request.method == "GET" else f"{shop.home}?mode={data.mode}"
    return render(request, shop, "portal/lookup.html", context, status_code=status_code, page_url=page_url)


@router.get("/lookup")
@router.get("/leave")
@router.get("/orders/{order_id}/items")
@router.get("/orders/{order_id}/confirm")
@router.get("/r/{token}/cancel")
@router.get("/r/{token}/parcel")
@router.get("/r/{token}/shipments/{shipment_id}/pickup")
def form_address(request: Request) -> RedirectResponse:
    """A form's address opened as a page (a reload, a bookmark, a link from an older page): on
    to the page the form belongs to, in the language asked for, if any."""
    language = request.query_params.get("lang")
    query = f"?lang={language}" if language in i18n.LANGUAGES else ""
    return RedirectResponse(page_path(request.url.path) + query, status_code=303)


@router.post("/lookup")
def lookup(request: Request, slug: str, session: DbSession, form: Form) -> Response:
    shop = _shop(request, session, slug)
    check_csrf(request, _text(form, "csrf_token"))
    mode = _text(form, "mode")
    data = LookupIn(
        mode=mode if mode in ("email", "postal_code", "gift") else "email",
        order_number=_text(form, "order_number")[:100],
        email=_text(form, "email")[:320],
        postal_code=_text(form, "postal_code")[:20],
        gift_code=_text(form, "gift_code")[:40],
        recipient_email=_text(form, "recipient_email")[:320],
    )
    client = request.client.host if request.client else "unknown"
    try:
        found = service.find_order(session, shop.id, data, client_address=client)
    except InvalidInput as refused:
        return _lookup(request, shop, data, {"errors": {refused.field: refused.code}}, status_code=422)
    if found.outcome == "rate_limited":
        assert found.retry_at is not None
        minutes = max(1, -(-int((found.retry_at - clock.now()).total_seconds()) // 60))
        response = _lookup(
            request, shop, data, {"form_error": "rate_limited", "retry_minutes": minutes}, status_code=429
        )
        response.headers["Retry-After"] = str(minutes * 60)
        return response
    if found.outcome == "not_found":
        return _lookup(request, shop, data, {"form_error": "not_found"}, status_code=404)
    remember_portal_token(request, shop, found.token)
    return RedirectResponse(f"/s/{shop.slug}/orders/{found.order_id}", status_code=303)


@router.post("/leave")
def leave(request: Request, slug: str, session: DbSession, form: Form) -> RedirectResponse:
    shop = _shop(request, session, slug)
    check_csrf(request, _text(form, "csrf_token"))
    service.close_session(session, shop.id, portal_token(request, shop))
    remember_portal_token(request, shop, None)
    return RedirectResponse(shop.home, status_code=303)


# ---- Choose the items (C2, C3) -------------------------------------------------------------------


@router.get("/orders/{order_id}")
def order_page(request: Request, slug: str, order_id: int, session: DbSession) -> Response:
    shop = _shop(request, session, slug)
    access = _access(request, session, shop, order_id)
    return _choose(request, shop, service.choose_page(session, shop.id, access))


def _choose(
    request: Request,
    shop: Shop,
    page: service.ChoosePage,
    *,
    values: dict[int, ItemChoice] | None = None,
    problems: list[service.Problem] | None = None,
    status_code: int | None = None,
) -> Response:
    chosen = values or {
        line.order_line_id: ItemChoice(
            order_line_id=line.order_line_id, quantity=line.quantity, reason_code=line.reason_code, comment=line.comment
        )
        for line in page.draft.lines
    }
    context = {
        "page": page,
        "values": chosen,
        "problems": _by_field(problems or []),
        "problem_list": problems or [],
        "return_links": {request_.id: status_url(request, shop, request_.id) for request_ in page.returns},
        "photo_max_mb": service.PHOTO_MAX_MB,
        "step": 1,
    }
    status_code = status_code or (422 if problems else 200)
    return render(request, shop, "portal/choose.html", context, status_code=status_code)


def _by_field(problems: list[service.Problem]) -> dict[str, list[service.Problem]]:
    grouped: dict[str, list[service.Problem]] = {}
    for problem in problems:
        grouped.setdefault(problem.field, []).append(problem)
    return grouped


@router.post("/orders/{order_id}/items")
def choose_items(request: Request, slug: str, order_id: int, form: PhotoForm, session: DbSession) -> Response:
    # The form comes first: the photos are read before the write transaction starts.
    shop = _shop(request, session, slug)
    if form is None:
        # Refused before the body was read: nothing of it is kept, the page says why.
        access = _access(request, session, shop, order_id)
        problem = service.Problem(
            "photos",
            "form_too_large",
            f"the photos together are larger than {MAX_PHOTO_FORM_MB} MB",
            {"max_mb": MAX_PHOTO_FORM_MB, "file_mb": service.PHOTO_MAX_MB},
        )
        page = service.choose_page(session, shop.id, access)
        return _choose(request, shop, page, problems=[problem], status_code=413)
    check_csrf(request, _text(form, "csrf_token"))
    access = _access(request, session, shop, order_id)
    choices = {
        line.id: ItemChoice(
            order_line_id=line.id,
            quantity=max(0, _int(_text(form, f"line-{line.id}-quantity"))),
            reason_code=_text(form, f"line-{line.id}-reason")[:60],
            comment=_text(form, f"line-{line.id}-comment")[:2000],
        )
        for line in access.order.lines
    }
    uploads = [
        service.Upload(
            line.id, upload.filename or "photo", upload.content_type or "", upload.file.read(MAX_UPLOAD_BYTES)
        )
        for line in access.order.lines
        for upload in form.getlist(f"line-{line.id}-photos")
        if isinstance(upload, UploadFile) and (upload.filename or upload.size)
    ]
    try:
        service.choose_items(
            session,
            shop.id,
            access,
            list(choices.values()),
            uploads,
            storage_dir=request.app.state.settings.storage_dir,
        )
    except service.FormRefused as refused:
        page = service.choose_page(session, shop.id, access)
        return _choose(request, shop, page, values=choices, problems=refused.problems)
    return RedirectResponse(f"/s/{shop.slug}/orders/{order_id}/options", status_code=303)


# ---- Resolution and method (C4, C7) --------------------------------------------------------------


@router.get("/orders/{order_id}/options")
def options_page(request: Request, slug: str, order_id: int, session: DbSession) -> Response:
    shop = _shop(request, session, slug)
    access = _access(request, session, shop, order_id)
    try:
        page = service.options_page(session, shop.id, access)
    except NotFound:
        return RedirectResponse(f"/s/{shop.slug}/orders/{order_id}", status_code=303)
    return _options(
        request,
        shop,
        page,
        OptionsIn(
            resolution=page.draft.resolution or "",
            method=page.draft.method or "",
            exchange_variants={
                line.order_line_id: line.exchange_variant_id for line in page.draft.lines if line.exchange_variant_id
            },
            pickup_date=page.draft.pickup_date.isoformat() if page.draft.pickup_date else "",
            pickup_slot=page.draft.pickup_slot or "",
            store_code=page.draft.store_code or "",
        ),
    )


def _options(
    request: Request,
    shop: Shop,
    page: service.OptionsPage,
    values: OptionsIn,
    problems: list[service.Problem] | None = None,
) -> Response:
    shown = values.resolution if values.resolution in page.quotes else next(iter(page.quotes), None)
    context = {
        "page": page,
        "values": values,
        "shown_resolution": shown,
        "titles": {line.id: line.title for _, line in page.lines},
        "problems": _by_field(problems or []),
        "problem_list": problems or [],
        "step": 2,
    }
    return render(request, shop, "portal/options.html", context, status_code=422 if problems else 200)


@router.post("/orders/{order_id}/options")
def choose_options(request: Request, slug: str, order_id: int, session: DbSession, form: Form) -> Response:
    shop = _shop(request, session, slug)
    check_csrf(request, _text(form, "csrf_token"))
    access = _access(request, session, shop, order_id)
    pickup = _text(form, "pickup").split("|", 1)
    data = OptionsIn(
        resolution=_text(form, "resolution"),
        method=_text(form, "method"),
        exchange_variants={
            line.id: _int(_text(form, f"line-{line.id}-variant"))
            for line in access.order.lines
            if _text(form, f"line-{line.id}-variant")
        },
        pickup_date=pickup[0] if len(pickup) == 2 else "",
        pickup_slot=pickup[1] if len(pickup) == 2 else "",
        store_code=_text(form, "store"),
    )
    try:
        service.choose_options(session, shop.id, access, data)
    except service.FormRefused as refused:
        return _options(request, shop, service.options_page(session, shop.id, access), data, refused.problems)
    except NotFound:
        return RedirectResponse(f"/s/{shop.slug}/orders/{order_id}", status_code=303)
    return RedirectResponse(f"/s/{shop.slug}/orders/{order_id}/review", status_code=303)


@router.get("/orders/{order_id}/quote")
def quote_preview(request: Request, slug: str, order_id: int, session: DbSession, resolution: str = "") -> Response:
    """The live quote (htmx swaps it in when the customer picks another resolution)."""
    shop = _shop(request, session, slug)
    access = _access(request, session, shop, order_id)
    page = service.options_page(session, shop.id, access)
    context = {
        "quote": page.quotes.get(resolution),
        "resolution": resolution,
        "titles": {line.id: line.title for _, line in page.lines},
    }
    return render(request, shop, "portal/_quote.html", context)


# ---- Review and confirmation (C5) ----------------------------------------------------------------


@router.get("/orders/{order_id}/review")
def review_page(request: Request, slug: str, order_id: int, session: DbSession) -> Response:
    shop = _shop(request, session, slug)
    access = _access(request, session, shop, order_id)
    return _review(request, shop, access, session)


def _review(
    request: Request, shop: Shop, access: service.PortalAccess, session: Any, *, error: str | None = None
) -> Response:
    try:
        page = service.options_page(session, shop.id, access)
    except NotFound:
        return RedirectResponse(f"/s/{shop.slug}/orders/{access.order.id}", status_code=303)
    draft = page.draft
    if not draft.resolution or not draft.method:
        return RedirectResponse(f"/s/{shop.slug}/orders/{access.order.id}/options", status_code=303)
    variants = {variant.id: variant for choice in page.exchanges for variant in choice.variants}
    context = {
        "page": page,
        "draft": draft,
        "quote": page.quotes.get(draft.resolution),
        "resolution": draft.resolution,
        "titles": {line.id: line.title for _, line in page.lines},
        "variants": variants,
        "reasons": {
            reason.code: reason
            for group in service.choose_page(session, shop.id, access).reason_groups
            for reason in ([group.reason] if group.reason else []) + group.children
        },
        "store": next((store for store in page.stores if store.code == draft.store_code), None),
        "error": error,
        "step": 3,
    }
    return render(request, shop, "portal/review.html", context, status_code=409 if error else 200)


@router.post("/orders/{order_id}/confirm")
def confirm(request: Request, slug: str, order_id: int, session: DbSession, form: Form) -> Response:
    shop = _shop(request, session, slug)
    check_csrf(request, _text(form, "csrf_token"))
    access = _access(request, session, shop, order_id)
    actor = service.customer_actor(access.order, gift_recipient_email=access.portal_session.gift_recipient_email)
    try:
        created = service.confirm_return(
            session,
            shop.id,
            access,
            actor=actor,
            storage_dir=request.app.state.settings.storage_dir,
            language=language_for(request, shop),
        )
    except (Refused, InvalidInput, Conflict) as refused:
        # The order changed since the items were chosen (another return, a new policy...).
        return _review(request, shop, access, session, error=refused.detail)
    except NotFound:
        return RedirectResponse(f"/s/{shop.slug}/orders/{order_id}", status_code=303)
    return RedirectResponse(f"{status_url(request, shop, created.id)}?new=1", status_code=303)


@router.get("/returns/{return_id}")
def session_return(request: Request, slug: str, return_id: PathId, session: DbSession) -> RedirectResponse:
    """A return of the session's order, reached from the order page: on to its status page."""
    shop = _shop(request, session, slug)
    order_id = service.session_order_id(session, shop.id, portal_token(request, shop))
    found = status.return_of_order(session, shop.id, return_id, order_id)
    return RedirectResponse(status_url(request, shop, found.id), status_code=303)


# ---- Status page (C6) and cancellation (C8) ------------------------------------------------------


@router.get("/r/{token}")
def status_page(request: Request, slug: str, token: str, session: DbSession, new: int = 0) -> Response:
    shop = _shop(request, session, slug)
    return_id = status.read_status_token(_secret(request), shop.id, token)
    return _status(request, shop, status.status_page(session, shop.id, return_id), token, new=bool(new))


def _status(
    request: Request,
    shop: Shop,
    page: status.StatusPage,
    token: str,
    *,
    new: bool = False,
    notice: str | None = None,
    pickup_form: dict[str, Any] | None = None,
) -> Response:
    problems: list[service.Problem] = (pickup_form or {}).get("problems", [])
    context = {
        "page": page,
        "ret": page.described,
        "token": token,
        "base": f"/s/{shop.slug}/r/{token}",
        # The link to keep opens the page (and its documents) in the language of this visit.
        "status_link": f"{str(request.base_url).rstrip('/')}/s/{shop.slug}/r/{token}?lang={language_for(request, shop)}",
        "new": new,
        "notice": notice or request.query_params.get("notice"),
        "titles": {line.order_line_id: line.title for line in page.described.lines},
        "pickup_form": pickup_form
        or {
            "pickup_date": page.shipment.pickup_date.isoformat() if page.shipment and page.shipment.pickup_date else "",
            "pickup_slot": page.shipment.pickup_slot if page.shipment else "",
        },
        "problems": _by_field(problems),
        "problem_list": problems,
    }
    status_code = 422 if problems else 409 if notice else 200
    return render(request, shop, "portal/status.html", context, status_code=status_code)


@router.post("/r/{token}/cancel")
def cancel(request: Request, slug: str, token: str, session: DbSession, form: Form) -> Response:
    shop = _shop(request, session, slug)
    check_csrf(request, _text(form, "csrf_token"))
    return_id = status.read_status_token(_secret(request), shop.id, token)
    try:
        status.cancel_return(session, shop.id, return_id, actor=status.actor_for_return(session, shop.id, return_id))
    except Conflict as refused:
        return _status(request, shop, status.status_page(session, shop.id, return_id), token, notice=refused.code)
    return RedirectResponse(f"/s/{shop.slug}/r/{token}?notice=cancelled", status_code=303)


@router.post("/r/{token}/shipments/{shipment_id}/pickup")
def reschedule_pickup(
    request: Request, slug: str, token: str, shipment_id: PathId, session: DbSession, form: Form
) -> Response:
    """Move the home pickup of this return's parcel to another offered day and slot. A parcel that
    is not this return's is not found; a slot not offered is shown back on the page, named."""
    shop = _shop(request, session, slug)
    check_csrf(request, _text(form, "csrf_token"))
    return_id = status.read_status_token(_secret(request), shop.id, token)
    chosen = {"pickup_date": _text(form, "pickup_date")[:10], "pickup_slot": _text(form, "pickup_slot")[:10]}
    try:
        status.reschedule_pickup(
            session,
            shop.id,
            return_id,
            shipment_id,
            **chosen,
            actor=status.actor_for_return(session, shop.id, return_id),
        )
    except InvalidInput as refused:
        problem = _pickup_problem(language_for(request, shop), refused)
        page = status.status_page(session, shop.id, return_id)
        return _status(request, shop, page, token, pickup_form={**chosen, "problems": [problem]})
    except Conflict as refused:
        return _status(request, shop, status.status_page(session, shop.id, return_id), token, notice=refused.code)
    return RedirectResponse(f"/s/{shop.slug}/r/{token}?notice=pickup_rescheduled", status_code=303)


@router.post("/r/{token}/parcel")
def choose_parcel(request: Request, slug: str, token: str, session: DbSession, form: Form) -> Response:
    """A return approved after review: the customer picks the courier's day and slot, or the
    store, and gets the documents. A choice not offered is shown back, named; nothing is made."""
    shop = _shop(request, session, slug)
    check_csrf(request, _text(form, "csrf_token"))
    return_id = status.read_status_token(_secret(request), shop.id, token)
    chosen = {
        "pickup_date": _text(form, "pickup_date")[:10],
        "pickup_slot": _text(form, "pickup_slot")[:10],
        "store_code": _text(form, "store_code")[:40],
    }
    try:
        status.create_first_parcel(
            session,
            shop.id,
            return_id,
            **chosen,
            actor=status.actor_for_return(session, shop.id, return_id),
            storage_dir=request.app.state.settings.storage_dir,
            language=language_for(request, shop),
        )
    except InvalidInput as refused:
        problem = _pickup_problem(language_for(request, shop), refused)
        page = status.status_page(session, shop.id, return_id)
        return _status(request, shop, page, token, pickup_form={**chosen, "problems": [problem]})
    except Conflict as refused:
        return _status(request, shop, status.status_page(session, shop.id, return_id), token, notice=refused.code)
    return RedirectResponse(f"/s/{shop.slug}/r/{token}?notice=parcel_ready", status_code=303)


def _pickup_problem(language: str, refused: InvalidInput) -> service.Problem:
    """The refusal in the page's language, naming the field it is about."""
    field = refused.field if refused.field in PICKUP_FIELD_LABELS else "pickup_date"
    message = str(refused.extra.get("message_fr") or refused.detail) if language == "fr" else refused.detail
    text = gettext(
        language, N_("%(field)s: %(reason)s."), field=gettext(language, PICKUP_FIELD_LABELS[field]), reason=message
    )
    return service.Problem(field, refused.code, text[:1].upper() + text[1:])


@router.get("/r/{token}/label.pdf")
def label_pdf(request: Request, slug: str, token: str, session: DbSession) -> Response:
    shop = _shop(request, session, slug)
    return_id = status.read_status_token(_secret(request), shop.id, token)
    document = status.label_pdf(session, shop.id, return_id, storage_dir=request.app.state.settings.storage_dir)
    return _download(document, "application/pdf", f"label-{return_id}.pdf")


@router.get("/r/{token}/packing-slip.pdf")
def packing_slip_pdf(request: Request, slug: str, token: str, session: DbSession) -> Response:
    shop = _shop(request, session, slug)
    return_id = status.read_status_token(_secret(request), shop.id, token)
    document = status.packing_slip_pdf(session, shop.id, return_id, language=language_for(request, shop))
    return _download(document, "application/pdf", f"packing-slip-{return_id}.pdf")


@router.get("/r/{token}/qr.png")
def drop_off_qr(request: Request, slug: str, token: str, session: DbSession) -> Response:
    shop = _shop(request, session, slug)
    return_id = status.read_status_token(_secret(request), shop.id, token)
    return Response(
        status.drop_off_qr_png(session, shop.id, return_id),
        media_type="image/png",
        headers={"Cache-Control": "private, max-age=3600"},
    )


def _download(content: bytes, media_type: str, filename: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "private, no-store"},
    )


# ---- Policy page (P8) ----------------------------------------------------------------------------


@router.get("/policy")
def policy_page(request: Request, slug: str, session: DbSession) -> Response:
    shop = _shop(request, session, slug)
    return render(request, shop, "portal/policy.html", {"policy": status.policy_text(session, shop.id, shop.currency)})


# ---- Errors --------------------------------------------------------------------------------------

TITLES = {
    403: "This form has expired",
    404: "Page not found",
    405: "This page cannot be opened this way",
    409: "This cannot be done now",
    422: "Please check your request",
    429: "Too many attempts",
    500: "Something went wrong",
}


async def html_error(request: Request, error: Exception) -> Response:
    """The portal's error page: the right status, a calm message in the page language, a way back."""
    shop: Shop | None = getattr(request.state, "portal_shop", None)
    if isinstance(error, service.SessionExpired) and shop is not None:
        return RedirectResponse(f"{shop.home}?expired=1", status_code=303)
    if isinstance(error, RetourError):
        status_code, code = error.status, error.code
    elif isinstance(error, StarletteHTTPException):
        status_code, code = error.status_code, "http_error"
    else:
        status_code, code = 500, "internal_error"
    language = language_for(request, shop)
    context = {
        "status": status_code,
        "code": code,
        "title": gettext(language, TITLES.get(status_code, TITLES[500])),
        "home_url": shop.home if shop else None,
    }
    return render(request, shop, "portal/error.html", context, language=language, status_code=status_code)
