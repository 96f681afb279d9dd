"""What every portal page gets: a transaction owned by the request, and the posted form parsed
once (fields and photo files) for views that run in the thread pool."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import FormData

from retour.kit.db import begin_write

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


DbSession = Annotated[Session, Depends(session_for_request, scope="function")]
Form = Annotated[FormData, Depends(_form)]
