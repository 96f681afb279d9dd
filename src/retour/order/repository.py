from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from retour.models import Customer, Order, OrderLine, Tender


def _tenders(merchant_id: int) -> LoaderOption:
    # Scoped by merchant too, so that the tender index (merchant_id, order_id) serves the load
    # (``WHERE order_id IN (...)`` alone scanned the whole tender table: ~10 ms at 100k orders).
    return selectinload(Order.tenders.and_(Tender.merchant_id == merchant_id))


def get(session: Session, merchant_id: int, order_id: int, *, lock: bool = False, tenders: bool = True) -> Order | None:
    """``tenders=False`` skips their query for readers that never touch them; not with ``lock``: the
    locked reload would drop tenders the session already holds (``populate_existing``)."""
    # The lines come in the same query (a join: one round trip instead of two for the 1-3 lines of
    # an order); hence unique() and one_or_none(), which read every row of the order.
    statement = (
        select(Order)
        .where(Order.merchant_id == merchant_id, Order.id == order_id)
        .options(joinedload(Order.lines), *([_tenders(merchant_id)] if tenders or lock else []))
    )
    if lock:
        # Reload what the session may already hold: decide on the row as locked, not on an earlier read.
        statement = statement.with_for_update(of=Order).execution_options(populate_existing=True)
    return session.scalars(statement).unique().one_or_none()


def by_external_id(session: Session, merchant_id: int, external_id: str) -> Order | None:
    return session.scalars(
        select(Order)
        .where(Order.merchant_id == merchant_id, Order.external_id == external_id)
        .options(selectinload(Order.lines), _tenders(merchant_id))
    ).first()


def by_number(session: Session, merchant_id: int, number: str) -> Order | None:
    return session.scalars(
        select(Order)
        .where(Order.merchant_id == merchant_id, Order.number == number)
        .options(selectinload(Order.lines), _tenders(merchant_id))
    ).first()


def customer_by_email(session: Session, merchant_id: int, email: str) -> Customer | None:
    return session.scalars(select(Customer).where(Customer.merchant_id == merchant_id, Customer.email == email)).first()


def get_customer(session: Session, merchant_id: int, customer_id: int) -> Customer | None:
    return session.scalars(
        select(Customer).where(Customer.merchant_id == merchant_id, Customer.id == customer_id)
    ).first()


def lines_by_ids(session: Session, merchant_id: int, line_ids: list[int]) -> list[OrderLine]:
    return list(
        session.scalars(select(OrderLine).where(OrderLine.merchant_id == merchant_id, OrderLine.id.in_(line_ids)))
    )
