"""All SQL of stock locations and the inventory ledger, scoped by shop. Stock on hand is a
``SUM`` over the movements, never a stored number."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from retour.models import InventoryMovement, Order, OrderLine, ReturnLine, StockLocation


def locations(session: Session, merchant_id: int, *, include_inactive: bool = False) -> list[StockLocation]:
    """The default location first, then by code: the stable order restock routing breaks ties in."""
    statement = (
        select(StockLocation)
        .where(StockLocation.merchant_id == merchant_id)
        .order_by(StockLocation.is_default.desc(), StockLocation.code)
    )
    if not include_inactive:
        statement = statement.where(StockLocation.is_active.is_(True))
    return list(session.scalars(statement))


def location_by_code(session: Session, merchant_id: int, code: str) -> StockLocation | None:
    return session.scalars(
        select(StockLocation).where(StockLocation.merchant_id == merchant_id, StockLocation.code == code)
    ).first()


def locations_by_ids(session: Session, merchant_id: int, location_ids: set[int]) -> dict[int, StockLocation]:
    if not location_ids:
        return {}
    rows = session.scalars(
        select(StockLocation).where(StockLocation.merchant_id == merchant_id, StockLocation.id.in_(location_ids))
    )
    return {location.id: location for location in rows}


def lock_location(session: Session, merchant_id: int, location_id: int) -> StockLocation | None:
    """Serialises the movements that take stock from a location, so that two sales of the last
    unit cannot both pass the on-hand check."""
    return session.scalars(
        select(StockLocation)
        .where(StockLocation.merchant_id == merchant_id, StockLocation.id == location_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def clear_default(session: Session, merchant_id: int) -> None:
    session.execute(
        update(StockLocation)
        .where(StockLocation.merchant_id == merchant_id, StockLocation.is_default.is_(True))
        .values(is_default=False)
        .execution_options(synchronize_session="fetch")
    )


def on_hand(session: Session, merchant_id: int, sku: str, location_id: int) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(InventoryMovement.quantity), 0)).where(
            InventoryMovement.merchant_id == merchant_id,
            InventoryMovement.sku == sku,
            InventoryMovement.stock_location_id == location_id,
        )
    )
    return int(total or 0)


def on_hand_by_location(session: Session, merchant_id: int, sku: str) -> dict[int, int]:
    rows = session.execute(
        select(InventoryMovement.stock_location_id, func.sum(InventoryMovement.quantity))
        .where(InventoryMovement.merchant_id == merchant_id, InventoryMovement.sku == sku)
        .group_by(InventoryMovement.stock_location_id)
    )
    return {location_id: int(total or 0) for location_id, total in rows}


def units_ordered_by_country(session: Session, merchant_id: int, sku: str, since: datetime) -> dict[str, int]:
    """Units of ``sku`` in the shop's orders placed since ``since``, per delivery country: one
    grouped query, found through ``ix_order_line_merchant_id_sku`` then the order's primary key."""
    rows = session.execute(
        select(Order.country, func.sum(OrderLine.quantity))
        .select_from(OrderLine)
        .join(Order, (Order.id == OrderLine.order_id) & (Order.merchant_id == OrderLine.merchant_id))
        .where(
            OrderLine.merchant_id == merchant_id,
            OrderLine.sku == sku,
            Order.merchant_id == merchant_id,
            Order.placed_at >= since,
        )
        .group_by(Order.country)
    )
    totals: dict[str, int] = {}
    for country, units in rows:
        key = (country or "").upper()
        totals[key] = totals.get(key, 0) + int(units or 0)
    return totals


def reserved_for_line(session: Session, merchant_id: int, sku: str, location_id: int, return_line_id: int) -> int:
    """Units reserved for a return line at a location and not released yet."""
    total = session.scalar(
        select(func.coalesce(func.sum(-InventoryMovement.quantity), 0)).where(
            InventoryMovement.merchant_id == merchant_id,
            InventoryMovement.sku == sku,
            InventoryMovement.stock_location_id == location_id,
            InventoryMovement.return_line_id == return_line_id,
            InventoryMovement.kind.in_(("reservation", "release")),
        )
    )
    return int(total or 0)


def return_line_exists(session: Session, merchant_id: int, return_line_id: int) -> bool:
    return (
        session.scalar(
            select(ReturnLine.id).where(ReturnLine.merchant_id == merchant_id, ReturnLine.id == return_line_id)
        )
        is not None
    )


def movements(
    session: Session,
    merchant_id: int,
    *,
    sku: str | None,
    location_id: int | None,
    before_id: int | None,
    limit: int,
) -> list[InventoryMovement]:
    """Newest first, keyset-paginated on id."""
    statement = (
        select(InventoryMovement)
        .where(InventoryMovement.merchant_id == merchant_id)
        .order_by(InventoryMovement.id.desc())
        .limit(limit)
    )
    if sku is not None:
        statement = statement.where(InventoryMovement.sku == sku)
    if location_id is not None:
        statement = statement.where(InventoryMovement.stock_location_id == location_id)
    if before_id is not None:
        statement = statement.where(InventoryMovement.id < before_id)
    return list(session.scalars(statement))
