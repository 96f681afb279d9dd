"""The back-office: staff sign in, work through the returns and manage the shop's settings.

Everything lives under ``/backoffice``. This module holds the sign-in, the sign-out and the error
pages; the returns and the settings screens live in their own modules, included here."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from retour.backoffice import return_views, settings_views, warehouse_views
from retour.backoffice.deps import CsrfChecked, DbSession, remember_login, signed_in, staff_from_session
from retour.backoffice.pages import AREA, LABELS, N_, flash, gettext, language_for, render
from retour.kit import i18n
from retour.kit.errors import RetourError, Unauthorized
from retour.kit.web import csrf_token
from retour.merchant import service as merchant_service

PREFIX = "/backoffice"
HOME = f"{PREFIX}/returns"
LOGIN = f"{PREFIX}/login"

router = APIRouter(prefix=PREFIX, include_in_schema=False)
router.include_router(return_views.router)
router.include_router(settings_views.router)
router.include_router(warehouse_views.router)


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse(HOME, status_code=303)


@router.get("/login")
def login_page(request: Request, next: str = "") -> Response:
    if signed_in(request):
        return RedirectResponse(_safe_next(next), status_code=303)
    return render(request, "backoffice/login.html", {"next": _safe_next(next, default=""), "email": "", "shop": ""})


@router.post("/login")
def login(
    request: Request,
    session: DbSession,
    _csrf: CsrfChecked,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    shop: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Sign in. Unknown email and wrong password get the same answer; the session (and its CSRF
    token) is started afresh so that nothing planted before the login survives it."""
    # Over-long fields cannot match an account; cut them so that they cost no more than a wrong one.
    email, password, shop, next = email[:320], password[:1000], shop[:64], next[:500]
    try:
        staff_login = merchant_service.authenticate_staff(
            session, email=email, password=password, merchant_slug=shop.strip().lower() or None
        )
    except Unauthorized as error:
        message = (
            N_("Several shops use this email: enter the shop's identifier.")
            if error.code == "shop_required"
            else N_("Wrong email or password.")
        )
        context = {"error": gettext(request, message), "email": email, "shop": shop, "next": _safe_next(next, "")}
        return render(request, "backoffice/login.html", context, status_code=401)
    remember_login(request, staff_login)
    csrf_token(request)
    return RedirectResponse(_safe_next(next), status_code=303)


@router.post("/logout")
def logout(request: Request, _csrf: CsrfChecked) -> RedirectResponse:
    language = request.session.get("lang")
    request.session.clear()
    if language:
        request.session["lang"] = language
    flash(request, gettext(request, N_("You are signed out.")))
    return RedirectResponse(LOGIN, status_code=303)


def _safe_next(target: str, default: str = HOME) -> str:
    """Only ever go back to a back-office page of this site after the login (no open redirect)."""
    if target.startswith(f"{PREFIX}/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


# ---- Error pages ----------------------------------------------------------------------------------

_TITLES = {
    401: N_("Please sign in"),
    403: N_("Not allowed"),
    404: N_("Page not found"),
    405: N_("Not allowed"),
    409: N_("Not possible right now"),
    422: N_("Please check what you entered"),
}
_MESSAGES = {
    "csrf_failed": N_("The form expired or did not come from this site. Reload the page and try again."),
    "role_forbidden": N_("Your role does not allow this."),
    "not_found": N_("This page does not exist, or it is not yours to see."),
    "already_received": N_("Part of this return has already arrived."),
    "invalid_cursor": N_("This page link is no longer valid: go back to the newest returns."),
    "method_not_allowed": N_("This address does not accept this kind of request."),
}
_RETURN_PATH = re.compile(rf"^{PREFIX}/returns/(\d+)/")


async def html_error(request: Request, error: Exception) -> Response:
    """The friendly page for an error on a page (not the JSON API): the right status, a message in
    the page language and a way back. A page that needs a login sends to the login page."""
    status, code, detail = _describe(error)
    on_backoffice = request.url.path == PREFIX or request.url.path.startswith(f"{PREFIX}/")
    if status == 401 and on_backoffice:
        target = f"{LOGIN}?next={request.url.path}" if request.method == "GET" else LOGIN
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    context = {
        "status": status,
        "title": gettext(request, _TITLES.get(status, N_("Something went wrong"))),
        "message": _message(request, code, detail, error),
        "back_url": _back_url(request.url.path) if on_backoffice else "/",
    }
    staff = staff_from_session(request) if on_backoffice else None
    response = render(request, "backoffice/error.html", context, staff=staff, status_code=status)
    if isinstance(error, StarletteHTTPException) and error.headers:
        response.headers.update(error.headers)
    return response


def _describe(error: Exception) -> tuple[int, str, str]:
    if isinstance(error, RetourError):
        return error.status, error.code, error.detail
    if isinstance(error, StarletteHTTPException):
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
        return error.status_code, codes.get(error.status_code, "http_error"), str(error.detail)
    return 500, "internal_error", "something went wrong on our side"


def _message(request: Request, code: str, detail: str, error: Exception) -> str:
    if code == "invalid_transition" and isinstance(error, RetourError):
        status = str(error.extra.get("status", ""))
        label = gettext(request, LABELS["status"].get(status, status))
        return gettext(request, N_("This action is not possible: the return's status is “%(status)s”."), status=label)
    if code in _MESSAGES:
        return gettext(request, _MESSAGES[code])
    # Services speak English; a message with a French translation in the catalogs gets it.
    return i18n.gettext(language_for(request), detail, AREA)


def _back_url(path: str) -> str:
    match = _RETURN_PATH.match(path)
    if match:
        return f"{PREFIX}/returns/{match.group(1)}"
    if path.startswith(f"{PREFIX}/settings"):
        return f"{PREFIX}/settings"
    if path.startswith(f"{PREFIX}/warehouse"):
        return f"{PREFIX}/warehouse"
    return HOME
