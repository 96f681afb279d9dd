"""What every back-office page gets: a transaction owned by the request, the signed-in staff member
and what their role lets them do, and the CSRF check of posted forms."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import Depends, Form, Request
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.actor import Actor
from retour.kit.db import begin_write
from retour.kit.errors import Forbidden, Unauthorized
from retour.kit.web import check_csrf
from retour.merchant import service as merchant_service

STAFF_SESSION_KEY = "staff"

Permission = Literal[
    "returns.view", "returns.decide", "settings.view", "settings.change", "warehouse.view", "warehouse.work"
]
PERMISSIONS: dict[Permission, frozenset[str]] = {
    "returns.view": frozenset({"admin", "agent", "warehouse"}),
    "returns.decide": frozenset({"admin", "agent"}),
    "settings.view": frozenset({"admin", "agent"}),
    "settings.change": frozenset({"admin"}),
    "warehouse.view": frozenset({"admin", "agent", "warehouse"}),
    "warehouse.work": frozenset({"admin", "warehouse"}),
}


def session_for_request(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the view returns, rolled back on any error.
    Posted forms start as writers so that SQLite never loses a race midway."""
    factory: sessionmaker[Session] = request.app.state.session_factory
    session = factory()
    try:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            begin_write(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


DbSession = Annotated[Session, Depends(session_for_request, scope="function")]


@dataclass(frozen=True)
class Staff:
    """The signed-in staff member, as the database says now (role changes apply at once)."""

    user_id: int
    merchant_id: int
    role: str
    name: str
    email: str
    shop_name: str

    @property
    def actor(self) -> Actor:
        return Actor("staff", str(self.user_id), self.name or self.email)

    def can(self, permission: Permission) -> bool:
        return self.role in PERMISSIONS[permission]


def remember_login(request: Request, login: merchant_service.StaffLogin) -> None:
    """Start a fresh signed-in session (nothing from before the login survives but the language)."""
    language = request.session.get("lang")
    request.session.clear()
    if language:
        request.session["lang"] = language
    request.session[STAFF_SESSION_KEY] = {
        "user_id": login.user.id,
        "merchant_id": login.merchant.id,
        "role": login.user.role,
        "language": login.user.language,
        "name": login.user.name,
        "email": login.user.email,
        "shop_name": login.merchant.name,
    }


def signed_in(request: Request) -> dict[str, Any] | None:
    data = request.session.get(STAFF_SESSION_KEY)
    return data if isinstance(data, dict) else None


def staff_from_session(request: Request) -> Staff | None:
    """Who the session says is signed in, without asking the database: for the navigation of error
    pages only, never to authorize anything."""
    data = signed_in(request)
    if data is None:
        return None
    return Staff(
        int(data["user_id"]),
        int(data["merchant_id"]),
        str(data.get("role", "")),
        str(data.get("name", "")),
        str(data.get("email", "")),
        str(data.get("shop_name", "")),
    )


def current_staff(request: Request, session: DbSession) -> Staff:
    data = signed_in(request)
    if data is None:
        raise Unauthorized("sign in to continue", code="login_required")
    user = merchant_service.get_staff(session, int(data["merchant_id"]), int(data["user_id"]))
    if user is None:
        request.session.pop(STAFF_SESSION_KEY, None)
        raise Unauthorized("sign in to continue", code="login_required")
    return Staff(user.id, user.merchant_id, user.role, user.name, user.email, str(data.get("shop_name", "")))


def allow(permission: Permission) -> Any:
    def check(staff: Annotated[Staff, Depends(current_staff)]) -> Staff:
        if not staff.can(permission):
            raise Forbidden("your role does not allow this", code="role_forbidden")
        return staff

    return Depends(check)


ReturnsViewer = Annotated[Staff, allow("returns.view")]
ReturnsDecider = Annotated[Staff, allow("returns.decide")]
SettingsViewer = Annotated[Staff, allow("settings.view")]
SettingsAdmin = Annotated[Staff, allow("settings.change")]
WarehouseViewer = Annotated[Staff, allow("warehouse.view")]
WarehouseWorker = Annotated[Staff, allow("warehouse.work")]


def _check_form_csrf(request: Request, csrf_token: Annotated[str | None, Form()] = None) -> None:
    check_csrf(request, csrf_token)


CsrfChecked = Annotated[None, Depends(_check_form_csrf)]
