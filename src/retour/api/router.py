"""The JSON API under /api/v1."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import text

from retour.api import problems
from retour.api.deps import DbSession
from retour.catalog.endpoints import router as catalog_router
from retour.inventory.endpoints import router as inventory_router
from retour.merchant.endpoints import router as merchant_router
from retour.order.endpoints import router as order_router
from retour.policy.endpoints import router as policy_router
from retour.receiving.endpoints import router as receiving_router
from retour.resale.endpoints import router as resale_router
from retour.return_request.endpoints import router as return_router
from retour.shipment.endpoints import router as shipment_router
from retour.shipment.endpoints import webhook_router

# Every API route may answer these; routes add their own (404, 409) in their decorators.
api_router = APIRouter(prefix="/api/v1", responses=problems.responses(400, 401, 403, 422, 503))
for router in (
    order_router,
    return_router,
    policy_router,
    catalog_router,
    receiving_router,
    inventory_router,
    resale_router,
    shipment_router,
    merchant_router,
):
    api_router.include_router(router)

# Carriers call these with their own signatures, not an API key.
carrier_webhook_router = webhook_router

health_router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str
    database: str


@health_router.get("/healthz", response_model=Health, responses=problems.responses(503))
def healthz(session: DbSession) -> Health:
    """Up, and the database answers."""
    session.execute(text("SELECT 1"))
    return Health(status="ok", database="ok")
