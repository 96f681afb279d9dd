from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from retour.api.deps import DbSession, Reader, Writer
from retour.api.problems import responses
from retour.kit.ids import MAX_ID
from retour.order import service
from retour.order.schemas import OrderIn, OrderOut

router = APIRouter(tags=["orders"])


@router.post(
    "/orders", response_model=OrderOut, status_code=201, responses={200: {"model": OrderOut}, **responses(409)}
)
def upsert_order(data: OrderIn, session: DbSession, caller: Writer, response: Response) -> OrderOut:
    """Create or update an order, keyed by the shop's ``external_id``: 201 when created, 200 when
    updated. Sending the same order twice is harmless."""
    order, created = service.upsert_order(session, caller.merchant_id, data)
    response.status_code = 201 if created else 200
    return service.order_out(order)


@router.get("/orders/{order_id}", response_model=OrderOut, responses=responses(404))
def get_order(order_id: Annotated[int, Path(ge=1, le=MAX_ID)], session: DbSession, caller: Reader) -> OrderOut:
    return service.order_out(service.get_order(session, caller.merchant_id, order_id))
