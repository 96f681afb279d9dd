"""Second-hand listings and their feed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from retour.api import problems
from retour.api.deps import DbSession, Reader, Writer
from retour.resale import service
from retour.resale.schemas import ListingOut, ListingPage

router = APIRouter(tags=["resale"])
ListingId = Annotated[int, Path(ge=1, le=2**63 - 1)]
_FEED: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "description": "With `format=csv`: the feed of active listings, one row per listing",
    }
}


@router.get("/resale/listings", response_model=ListingPage, responses=_FEED)
def list_listings(
    session: DbSession,
    caller: Reader,
    status: Literal["active", "sold", "withdrawn", "all"] = "active",
    format: Literal["json", "csv"] = "json",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Any:
    """Listings, oldest first. ``format=csv`` answers the feed of active listings as CSV."""
    if format == "csv":
        return _feed_response(service.feed(session, caller.merchant_id, "csv"), "csv")
    page = service.list_listings(
        session, caller.merchant_id, status=None if status == "all" else status, cursor=cursor, limit=limit
    )
    return ListingPage(items=[service.listing_out(item) for item in page.items], next_cursor=page.next_cursor)


@router.get(
    "/resale/feed",
    responses={200: {"content": {"application/json": {}, "text/csv": {}}, "description": "Active listings"}},
)
def feed(session: DbSession, caller: Reader, format: Literal["json", "csv"] = "csv") -> Response:
    """Every active listing for a marketplace or the shop: CSV (prices as decimals, photos
    separated by spaces) or JSON (``{"listings": [...]}``, amounts also in minor units)."""
    return _feed_response(service.feed(session, caller.merchant_id, format), format)


def _feed_response(body: str, format: str) -> Response:
    if format == "csv":
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="resale-feed.csv"'},
        )
    return Response(body, media_type="application/json")


@router.post("/resale/listings/{listing_id}/sold", response_model=ListingOut, responses=problems.responses(404, 409))
def mark_sold(listing_id: ListingId, session: DbSession, caller: Writer) -> ListingOut:
    """The unit found a buyer. 409 ``listing_not_active`` when sold or withdrawn already."""
    return service.listing_out(service.mark_sold(session, caller.merchant_id, listing_id, actor=caller.actor))


@router.post(
    "/resale/listings/{listing_id}/withdraw", response_model=ListingOut, responses=problems.responses(404, 409)
)
def withdraw(listing_id: ListingId, session: DbSession, caller: Writer) -> ListingOut:
    """No longer offered. 409 ``listing_not_active`` when sold or withdrawn already."""
    return service.listing_out(service.withdraw(session, caller.merchant_id, listing_id, actor=caller.actor))
