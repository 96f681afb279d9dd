"""What every portal page gets: a transaction owned by the request, and the posted form parsed
once (fields and photo files) for views that run in the thread pool."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import FormData
from starlette.types import Message, Receive

from retour.kit.db import begin_write
from retour.photo import rules as photo_rules

MAX_FILES = 40
MAX_FIELDS = 400


def session_for_request(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the view returns (a refused lookup is
    recorded too), rolled back on any error. Posted forms start as writers so that SQLite never
    loses a race midway."""
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


async def _form(request: Request) -> FormData:
    return await request.form(max_files=MAX_FILES, max_fields=MAX_FIELDS)


MAX_PHOTO_FORM_MB = 8 * (photo_rules.MAX_BYTES // 2**20)
"""A form with photos carries at most this much (eight photos at their largest, plus the fields)."""
MAX_PHOTO_FORM_BYTES = MAX_PHOTO_FORM_MB * 2**20 + 2**20


class _BodyTooLarge(Exception):
    pass


def _bounded(receive: Receive, limit: int) -> Receive:
    received = 0

    async def bounded() -> Message:
        nonlocal received
        message = await receive()
        received += len(message.get("body", b""))
        if received > limit:
            raise _BodyTooLarge
        return message

    return bounded


async def _photo_form(request: Request) -> FormData | None:
    """The posted form with its photos, or ``None`` when the body is larger than
    ``MAX_PHOTO_FORM_BYTES``: refused from its ``Content-Length`` before anything is read (or
    written to a temporary file), or as soon as a body sent without one goes past the limit."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_PHOTO_FORM_BYTES:
        return None
    bounded = Request(request.scope, _bounded(request.receive, MAX_PHOTO_FORM_BYTES))
    try:
        return await bounded.form(max_files=MAX_FILES, max_fields=MAX_FIELDS)
    except _BodyTooLarge:
        return None


DbSession = Annotated[Session, Depends(session_for_request, scope="function")]
Form = Annotated[FormData, Depends(_form)]
PhotoForm = Annotated[FormData | None, Depends(_photo_form)]
