"""Shared by the server-rendered pages (back-office and portal): templates with i18n, CSRF tokens,
money and date filters."""

from __future__ import annotations

import secrets
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import jinja2
from fastapi import Path as PathParam
from fastapi.templating import Jinja2Templates
from starlette.requests import Request

from retour.kit import i18n
from retour.kit.errors import Forbidden
from retour.kit.ids import constant_time_equal
from retour.kit.money import Money

# An id in a page's path: a 64-bit row id at most (a larger number is a 422, never an overflow).
PathId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
CSRF_SESSION_KEY = "csrf"
CSRF_FIELD = "csrf_token"


def _money(amount_minor: int | None, currency: str, language: str = "fr") -> str:
    return Money(amount_minor or 0, currency).format(language)


def _date(value: date | datetime | None, language: str = "fr", with_time: bool = False) -> str:
    if value is None:
        return ""
    from babel.dates import format_date, format_datetime

    locale = "fr_FR" if language == "fr" else "en_GB"
    if isinstance(value, datetime):
        return str(format_datetime(value, "d MMM y HH:mm" if with_time else "d MMM y", locale=locale))
    return str(format_date(value, "d MMMM y", locale=locale))


class Pages:
    """One Jinja environment per language (translations are bound to an environment, and
    requests in different languages run concurrently)."""

    def __init__(self, directory: Path = TEMPLATES_DIR, *, area: str | None = None) -> None:
        """``area`` (``"backoffice"``, ``"portal"``): whose catalog wins when two translate alike."""
        self._by_language = {language: _templates(directory, language, area) for language in i18n.LANGUAGES}

    def render(
        self, request: Request, name: str, context: dict[str, Any], *, language: str, status_code: int = 200
    ) -> Any:
        """Render a page in ``language``: ``{{ _("...") }}`` and ``{% trans %}`` use its catalog."""
        language = i18n.normalize(language)
        context = {"language": language, "csrf_token": csrf_token(request), **context}
        return self._by_language[language].TemplateResponse(request, name, context, status_code=status_code)


def _templates(directory: Path, language: str, area: str | None = None) -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(directory)), autoescape=True, extensions=["jinja2.ext.i18n"]
    )
    env.install_gettext_translations(i18n.translations(language, area), newstyle=True)  # type: ignore[attr-defined]
    env.filters["money"] = _money
    env.filters["date"] = _date
    env.globals["LANGUAGES"] = i18n.LANGUAGES
    return Jinja2Templates(env=env)


def csrf_token(request: Request) -> str:
    """The session's CSRF token (created on first use). Forms carry it in a hidden field."""
    token = request.session.get(CSRF_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[CSRF_SESSION_KEY] = token
    return str(token)


def check_csrf(request: Request, submitted: str | None) -> None:
    expected = request.session.get(CSRF_SESSION_KEY)
    if not expected or not submitted or not constant_time_equal(str(expected), submitted):
        raise Forbidden(
            "the form expired or did not come from this site; reload the page and try again", code="csrf_failed"
        )
