from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import JSONResponse

from retour.api.deps import DbSession, Reader, Writer
from retour.api.problems import responses
from retour.idempotency import service as idempotency_service
from retour.kit.ids import MAX_ID
from retour.order import service as order_service
from retour.return_request import service
from retour.return_request.repository import ReturnFilters
from retour.return_request.schemas import DecisionIn, ReturnableOut, ReturnIn, ReturnOut, ReturnPage

router = APIRouter(tags=["returns"])
ReturnId = Annotated[int, Path(ge=1, le=MAX_ID)]
OrderId = Annotated[int, Path(ge=1, le=MAX_ID)]
StatusFilter = Literal["requested", "approved", "rejected", "cancelled", "in_progress", "completed", "expired"]


@router.get("/orders/{order_id}/returnable", response_model=ReturnableOut, responses=responses(404))
def returnable(order_id: OrderId, session: DbSession, caller: Reader) -> ReturnableOut:
    """Which lines of the order can come back, how many, until when, and why not for the others."""
    order = order_service.get_order(session, caller.merchant_id, order_id, tenders=False)
    return service.describe_evaluation(service.evaluate_order(session, caller.merchant_id, order))


@router.post("/returns", status_code=201, response_model=ReturnOut, responses=responses(404, 409))
def create_return(
    data: ReturnIn,
    session: DbSession,
    caller: Writer,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """Ask for a return. Send an ``Idempotency-Key`` to retry safely: the same key and body give the
    same answer, the same key with another body is refused (422)."""
    body = data.model_dump(mode="json")
    endpoint = "POST /api/v1/returns"
    if idempotency_key:
        replay = idempotency_service.check(
            session, merchant_id=caller.merchant_id, key=idempotency_key, endpoint=endpoint, body=body
        )
        if replay is not None:
            return JSONResponse(replay.body, status_code=replay.status, headers={"Idempotent-Replayed": "true"})
    request = service.request_return(session, caller.merchant_id, data, actor=caller.actor, channel="api")
    # model_dump(mode="json", by_alias=True) is what jsonable_encoder does with a model, minus its second
    # walk over the result: this runs while the shop row is locked.
    out = service.describe_returns(session, caller.merchant_id, [request])[0].model_dump(mode="json", by_alias=True)
    if idempotency_key:
        idempotency_service.remember(
            session,
            merchant_id=caller.merchant_id,
            key=idempotency_key,
            endpoint=endpoint,
            body=body,
            status=201,
            response=out,
        )
    return JSONResponse(out, status_code=201)


@router.get("/returns", response_model=ReturnPage)
def list_returns(
    session: DbSession,
    caller: Reader,
    status: StatusFilter | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    customer_email: Annotated[str | None, Query(max_length=320)] = None,
    order_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    q: Annotated[str | None, Query(max_length=200, description="RMA number, order number, email or name")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> ReturnPage:
    filters = ReturnFilters(
        status=status,
        created_from=created_from,
        created_to=created_to,
        customer_email=customer_email,
        order_id=order_id,
        search=q,
    )
    page = service.list_returns(session, caller.merchant_id, filters, cursor=cursor, limit=limit)
    return ReturnPage(
        items=service.describe_returns(session, caller.merchant_id, page.items), next_cursor=page.next_cursor
    )


@router.get("/returns/{return_id}", response_model=ReturnOut, responses=responses(404))
def get_return(return_id: ReturnId, session: DbSession, caller: Reader) -> ReturnOut:
    request = service.get_return(session, caller.merchant_id, return_id)
    return service.describe_returns(session, caller.merchant_id, [request], with_timeline=True)[0]


@router.post("/returns/{return_id}/approve", response_model=ReturnOut, responses=responses(404, 409))
def approve(return_id: ReturnId, session: DbSession, caller: Writer, data: DecisionIn | None = None) -> ReturnOut:
    request = service.approve_return(
        session, caller.merchant_id, return_id, actor=caller.actor, note=data.note if data else None
    )
    return service.describe_returns(session, caller.merchant_id, [request], with_timeline=True)[0]


@router.post("/returns/{return_id}/reject", response_model=ReturnOut, responses=responses(404, 409))
def reject(return_id: ReturnId, session: DbSession, caller: Writer, data: DecisionIn | None = None) -> ReturnOut:
    request = service.reject_return(
        session, caller.merchant_id, return_id, actor=caller.actor, note=data.note if data else None
    )
    return service.describe_returns(session, caller.merchant_id, [request], with_timeline=True)[0]


@router.post("/returns/{return_id}/cancel", response_model=ReturnOut, responses=responses(404, 409))
def cancel(return_id: ReturnId, session: DbSession, caller: Writer, data: DecisionIn | None = None) -> ReturnOut:
    request = service.cancel_return(
        session, caller.merchant_id, return_id, actor=caller.actor, note=data.note if data else None
    )
    return service.describe_returns(session, caller.merchant_id, [request], with_timeline=True)[0]
