"""What every API route gets: a transaction owned by the request, and the calling shop's key."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.actor import Actor
from retour.kit.db import begin_write
from retour.kit.errors import Forbidden, Unauthorized
from retour.merchant import service as merchant_service


def _factory(request: Request) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = request.app.state.session_factory
    return factory


def session_for_request(request: Request) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on any error.
    Writes (anything but GET/HEAD) start as writers so that SQLite never loses a race midway."""
    session = _factory(request)()
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
class Caller:
    merchant_id: int
    key_id: int
    scopes: frozenset[str]

    @property
    def actor(self) -> Actor:
        return Actor("api_key", str(self.key_id), f"API key #{self.key_id}")


# Documents the scheme in OpenAPI; the answers stay ours (problem+json with a code), hence no auto_error.
_bearer = HTTPBearer(auto_error=False, description="An API key of the shop: `Authorization: Bearer rtr_...`")


def _caller(
    session: DbSession, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    if credentials is None:
        raise Unauthorized("send 'Authorization: Bearer <api key>'", code="missing_api_key")
    key = merchant_service.authenticate_api_key(session, credentials.credentials.strip())
    return Caller(key.merchant_id, key.id, frozenset(key.scopes))


def require(scope: str) -> object:
    # async: a pure check runs on the event loop instead of costing one more trip through the
    # thread pool on every API request (sync dependencies each run in a worker thread).
    async def check(caller: Annotated[Caller, Depends(_caller)]) -> Caller:
        if scope not in caller.scopes:
            raise Forbidden(f"this API key lacks the '{scope}' scope", code="insufficient_scope")
        return caller

    return Depends(check)


Reader = Annotated[Caller, require("read")]
Writer = Annotated[Caller, require("write")]
