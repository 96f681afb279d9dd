"""All SQL of receiving and inspection, scoped by shop. Rows that are read, changed and written
back (return lines, inspection units, the parcel) are locked (``FOR UPDATE`` on PostgreSQL; the
``BEGIN IMMEDIATE`` write transaction on SQLite) and reloaded as locked."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from retour.models import InspectionChecklist, InspectionUnit, Receipt, ReturnLine, Shipment


def shipment_by_tracking(session: Session, merchant_id: int, tracking_number: str) -> Shipment | None:
    return session.scalars(
        select(Shipment).where(Shipment.merchant_id == merchant_id, Shipment.tracking_number == tracking_number)
    ).first()


def shipments_of_return(session: Session, merchant_id: int, return_id: int) -> list[Shipment]:
    return list(
        session.scalars(
            select(Shipment)
            .where(Shipment.merchant_id == merchant_id, Shipment.return_request_id == return_id)
            .order_by(Shipment.id)
        )
    )


def lock_shipment(session: Session, merchant_id: int, shipment_id: int) -> Shipment | None:
    return session.scalars(
        select(Shipment)
        .where(Shipment.merchant_id == merchant_id, Shipment.id == shipment_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def lock_return_lines(session: Session, merchant_id: int, return_id: int) -> list[ReturnLine]:
    """The return's lines, locked, in id order (the order every writer locks them in)."""
    return list(
        session.scalars(
            select(ReturnLine)
            .where(ReturnLine.merchant_id == merchant_id, ReturnLine.return_request_id == return_id)
            .order_by(ReturnLine.id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def lock_return_line(session: Session, merchant_id: int, line_id: int) -> ReturnLine | None:
    return session.scalars(
        select(ReturnLine)
        .where(ReturnLine.merchant_id == merchant_id, ReturnLine.id == line_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).first()


def receipts_of_return(session: Session, merchant_id: int, return_id: int) -> list[Receipt]:
    return list(
        session.scalars(
            select(Receipt)
            .where(Receipt.merchant_id == merchant_id, Receipt.return_request_id == return_id)
            .options(selectinload(Receipt.lines))
            .order_by(Receipt.id)
        )
    )


def get_unit(session: Session, merchant_id: int, unit_id: int, *, lock: bool = False) -> InspectionUnit | None:
    statement = select(InspectionUnit).where(InspectionUnit.merchant_id == merchant_id, InspectionUnit.id == unit_id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return session.scalars(statement).first()


def units_of_return(session: Session, merchant_id: int, return_id: int) -> list[InspectionUnit]:
    return list(
        session.scalars(
            select(InspectionUnit)
            .where(InspectionUnit.merchant_id == merchant_id, InspectionUnit.return_request_id == return_id)
            .order_by(InspectionUnit.id)
        )
    )


def units_by_ids(session: Session, merchant_id: int, unit_ids: Sequence[int]) -> list[InspectionUnit]:
    if not unit_ids:
        return []
    return list(
        session.scalars(
            select(InspectionUnit)
            .where(InspectionUnit.merchant_id == merchant_id, InspectionUnit.id.in_(set(unit_ids)))
            .order_by(InspectionUnit.id)
        )
    )


def list_units(
    session: Session, merchant_id: int, statuses: Sequence[str], *, after_id: int | None, limit: int
) -> list[InspectionUnit]:
    """Oldest first (first in, first inspected), keyset-paginated on id."""
    statement = (
        select(InspectionUnit)
        .where(InspectionUnit.merchant_id == merchant_id, InspectionUnit.status.in_(tuple(statuses)))
        .order_by(InspectionUnit.id)
        .limit(limit)
    )
    if after_id is not None:
        statement = statement.where(InspectionUnit.id > after_id)
    return list(session.scalars(statement))


def count_units_by_status(session: Session, merchant_id: int) -> dict[str, int]:
    rows = session.execute(
        select(InspectionUnit.status, func.count(InspectionUnit.id))
        .where(InspectionUnit.merchant_id == merchant_id)
        .group_by(InspectionUnit.status)
    )
    return {status: int(count) for status, count in rows}


def count_unfinished_units(session: Session, merchant_id: int, return_id: int) -> dict[str, int]:
    rows = session.execute(
        select(InspectionUnit.status, func.count(InspectionUnit.id))
        .where(
            InspectionUnit.merchant_id == merchant_id,
            InspectionUnit.return_request_id == return_id,
            InspectionUnit.status != "done",
        )
        .group_by(InspectionUnit.status)
    )
    return {status: int(count) for status, count in rows}


def checklists(session: Session, merchant_id: int) -> list[InspectionChecklist]:
    return list(
        session.scalars(
            select(InspectionChecklist)
            .where(InspectionChecklist.merchant_id == merchant_id)
            .order_by(InspectionChecklist.category)
        )
    )


def checklist(session: Session, merchant_id: int, category: str) -> InspectionChecklist | None:
    return session.scalars(
        select(InspectionChecklist).where(
            InspectionChecklist.merchant_id == merchant_id, InspectionChecklist.category == category
        )
    ).first()
