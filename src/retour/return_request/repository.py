from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, case, func, inspect, or_, select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.util import identity_key

from retour.models import Customer, Order, OrderLine, ReturnLine, ReturnRequest

_M = TypeVar("_M", Order, OrderLine)

# What each status keeps out of the returnable quantity.
_HELD = case(
    (ReturnRequest.status == "requested", ReturnLine.requested_quantity),
    (ReturnRequest.status.in_(("approved", "in_progress")), ReturnLine.approved_quantity),
    (ReturnRequest.status == "completed", ReturnLine.received_quantity),
    else_=0,
)


def held_quantities(session: Session, merchant_id: int, order_line_ids: list[int]) -> dict[int, int]:
    """Units of each order line already held by returns (open ones, and what completed ones took back)."""
    if not order_line_ids:
        return {}
    rows = session.execute(
        select(ReturnLine.order_line_id, func.sum(_HELD))
        .join(ReturnRequest, ReturnRequest.id == ReturnLine.return_request_id)
        .where(ReturnLine.merchant_id == merchant_id, ReturnLine.order_line_id.in_(order_line_ids))
        .group_by(ReturnLine.order_line_id)
    )
    return {line_id: int(total or 0) for line_id, total in rows}


def _customer_returns(merchant_id: int, customer_id: int) -> Select[Any]:
    return select(func.count(ReturnRequest.id)).where(
        ReturnRequest.merchant_id == merchant_id,
        ReturnRequest.customer_id == customer_id,
        ReturnRequest.status.not_in(("cancelled", "rejected")),
    )


def count_customer_returns(session: Session, merchant_id: int, customer_id: int) -> int:
    return session.scalar(_customer_returns(merchant_id, customer_id)) or 0


def customer_with_return_count(
    session: Session, merchant_id: int, customer_id: int
) -> tuple[Customer, int, int] | None:
    """The customer, ``count_customer_returns`` and how many orders they placed in the shop, in one
    query (the policy needs all three: tags, earlier returns, customer segments)."""
    count = _customer_returns(merchant_id, customer_id).scalar_subquery()
    orders = (
        select(func.count(Order.id))
        .where(Order.merchant_id == merchant_id, Order.customer_id == customer_id)
        .scalar_subquery()
    )
    row = session.execute(
        select(Customer, count, orders).where(Customer.merchant_id == merchant_id, Customer.id == customer_id)
    ).first()
    return (row[0], int(row[1] or 0), int(row[2] or 0)) if row is not None else None


def get(session: Session, merchant_id: int, return_id: int, *, lock: bool = False) -> ReturnRequest | None:
    statement = (
        select(ReturnRequest)
        .where(ReturnRequest.merchant_id == merchant_id, ReturnRequest.id == return_id)
        .options(selectinload(ReturnRequest.lines))
    )
    if lock:
        # Reload what the session may already hold: decide on the row as locked, not on an earlier read.
        statement = statement.with_for_update(of=ReturnRequest).execution_options(populate_existing=True)
    return session.scalars(statement).first()


def by_number(session: Session, merchant_id: int, number: str) -> ReturnRequest | None:
    return session.scalars(
        select(ReturnRequest)
        .where(ReturnRequest.merchant_id == merchant_id, ReturnRequest.number == number)
        .options(selectinload(ReturnRequest.lines))
    ).first()


@dataclass(frozen=True)
class ReturnFilters:
    status: str | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    customer_email: str | None = None
    order_id: int | None = None
    search: str | None = None
    needs_review: bool | None = None


def search(
    session: Session, merchant_id: int, filters: ReturnFilters, *, before_id: int | None, limit: int
) -> list[ReturnRequest]:
    """Newest first, keyset-paginated on id."""
    statement = (
        select(ReturnRequest)
        .join(Order, Order.id == ReturnRequest.order_id)
        .where(ReturnRequest.merchant_id == merchant_id)
        .options(selectinload(ReturnRequest.lines))
        .order_by(ReturnRequest.id.desc())
        .limit(limit)
    )
    if before_id is not None:
        statement = statement.where(ReturnRequest.id < before_id)
    if filters.status:
        statement = statement.where(ReturnRequest.status == filters.status)
    if filters.created_from:
        statement = statement.where(ReturnRequest.created_at >= filters.created_from)
    if filters.created_to:
        statement = statement.where(ReturnRequest.created_at < filters.created_to)
    if filters.customer_email:
        statement = statement.where(Order.email == filters.customer_email.strip().lower())
    if filters.order_id:
        statement = statement.where(ReturnRequest.order_id == filters.order_id)
    if filters.needs_review is not None:
        statement = statement.where(ReturnRequest.needs_review.is_(filters.needs_review))
    if filters.search:
        term = filters.search.strip()
        like = f"%{term.lower()}%"
        statement = statement.where(
            or_(
                ReturnRequest.number == term.upper(),
                Order.number == term,
                func.lower(Order.email).like(like),
                func.lower(Order.customer_name).like(like),
            )
        )
    return list(session.scalars(statement))


def _already_loaded(session: Session, model: type[_M], ids: set[int], merchant_id: int) -> dict[int, _M]:
    """The rows of ``ids`` this session already holds, loaded and not expired: exactly the objects a
    SELECT would hand back (it never overwrites loaded attributes), without the round trip. Creating
    a return reads its order and lines while the shop row is locked: each query there costs everyone."""
    found: dict[int, _M] = {}
    for row_id in ids:
        row = session.identity_map.get(identity_key(model, row_id))
        if row is not None and not inspect(row).expired_attributes and row.merchant_id == merchant_id:
            found[row_id] = row
    return found


def orders_by_ids(session: Session, merchant_id: int, order_ids: set[int]) -> dict[int, Order]:
    if not order_ids:
        return {}
    found = _already_loaded(session, Order, order_ids, merchant_id)
    if missing := order_ids - found.keys():
        rows = session.scalars(select(Order).where(Order.merchant_id == merchant_id, Order.id.in_(missing)))
        found.update({order.id: order for order in rows})
    return found


def order_lines_by_ids(session: Session, merchant_id: int, line_ids: set[int]) -> dict[int, OrderLine]:
    if not line_ids:
        return {}
    found = _already_loaded(session, OrderLine, line_ids, merchant_id)
    if missing := line_ids - found.keys():
        rows = session.scalars(select(OrderLine).where(OrderLine.merchant_id == merchant_id, OrderLine.id.in_(missing)))
        found.update({line.id: line for line in rows})
    return found


def count_by_status(session: Session, merchant_id: int) -> dict[str, int]:
    rows = session.execute(
        select(ReturnRequest.status, func.count(ReturnRequest.id))
        .where(ReturnRequest.merchant_id == merchant_id)
        .group_by(ReturnRequest.status)
    )
    return {status: int(count) for status, count in rows}
