"""All SQL of second-hand listings, scoped by shop."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retour.models import ResaleListing


def get(session: Session, merchant_id: int, listing_id: int, *, lock: bool = False) -> ResaleListing | None:
    statement = select(ResaleListing).where(ResaleListing.merchant_id == merchant_id, ResaleListing.id == listing_id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return session.scalars(statement).first()


def by_units(session: Session, merchant_id: int, unit_ids: Sequence[int]) -> dict[int, ResaleListing]:
    if not unit_ids:
        return {}
    rows = session.scalars(
        select(ResaleListing).where(
            ResaleListing.merchant_id == merchant_id, ResaleListing.inspection_unit_id.in_(set(unit_ids))
        )
    )
    return {listing.inspection_unit_id: listing for listing in rows}


def search(
    session: Session, merchant_id: int, *, status: str | None, after_id: int | None, limit: int | None
) -> list[ResaleListing]:
    """Oldest first, keyset-paginated on id."""
    statement = select(ResaleListing).where(ResaleListing.merchant_id == merchant_id).order_by(ResaleListing.id)
    if status is not None:
        statement = statement.where(ResaleListing.status == status)
    if after_id is not None:
        statement = statement.where(ResaleListing.id > after_id)
    if limit is not None:
        statement = statement.limit(limit)
    return list(session.scalars(statement))


def count_by_status(session: Session, merchant_id: int) -> dict[str, int]:
    rows = session.execute(
        select(ResaleListing.status, func.count(ResaleListing.id))
        .where(ResaleListing.merchant_id == merchant_id)
        .group_by(ResaleListing.status)
    )
    return {status: int(count) for status, count in rows}
