"""The JSON API under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from retour.api.deps import DbSession
from retour.catalog.endpoints import router as catalog_router
from retour.order.endpoints import router as order_router
from retour.policy.endpoints import router as policy_router
from retour.return_request.endpoints import router as return_router

api_router = APIRouter(prefix="/api/v1")
for router in (order_router, return_router, policy_router, catalog_router):
    api_router.include_router(router)

health_router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str


@health_router.get("/healthz", response_model=Health)
def healthz(session: DbSession) -> Health:
    """Up, and the database answers."""
    session.execute(text("SELECT 1"))
    return Health(status="ok", database="ok")
