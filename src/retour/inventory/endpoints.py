"""Stock locations, stock on hand and the inventory ledger."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from retour.api import problems
from retour.api.deps import DbSession, Reader, Writer
from retour.inventory import service
from retour.inventory.schemas import LocationIn, LocationOut, MovementIn, MovementOut, StockOut

router = APIRouter(tags=["inventory"])
Sku = Annotated[str, Query(min_length=1, max_length=100)]


@router.get("/locations", response_model=list[LocationOut])
def list_locations(session: DbSession, caller: Reader) -> list[LocationOut]:
    """The shop's warehouses and stores, the default first."""
    return [service.location_out(location) for location in service.list_locations(session, caller.merchant_id)]


@router.post("/locations", status_code=201, response_model=LocationOut, responses=problems.responses(409))
def create_location(data: LocationIn, session: DbSession, caller: Writer) -> LocationOut:
    """Add a warehouse or store with its address and the countries it serves (its parcels come
    back there). 409 when the code is taken."""
    return service.location_out(service.create_location(session, caller.merchant_id, data, actor=caller.actor))


@router.get("/inventory", response_model=StockOut)
def stock(sku: Sku, session: DbSession, caller: Reader) -> StockOut:
    """Stock on hand of a SKU at every location, derived from the ledger."""
    return service.stock(session, caller.merchant_id, sku)


@router.get("/inventory/movements", response_model=list[MovementOut], responses=problems.responses(404))
def movements(
    session: DbSession,
    caller: Reader,
    sku: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
    location_code: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[MovementOut]:
    """The ledger, newest first; page with ``before_id`` (the last id you got)."""
    return service.list_movements(
        session, caller.merchant_id, sku=sku, location_code=location_code, before_id=before_id, limit=limit
    )


@router.post(
    "/inventory/movements", status_code=201, response_model=MovementOut, responses=problems.responses(404, 409)
)
def record_movement(data: MovementIn, session: DbSession, caller: Writer) -> MovementOut:
    """Record a sale, write-off, reservation or release. 409 ``insufficient_stock`` when it would
    take more than is on hand (nothing is written)."""
    movement = service.record_movement(session, caller.merchant_id, data, actor=caller.actor)
    return service.describe_movements(session, caller.merchant_id, [movement])[0]
