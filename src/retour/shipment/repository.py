"""Queries of the shipment feature."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from retour.models import OrderLine, Shipment


def shipments_of_return(session: Session, merchant_id: int, return_id: int) -> list[Shipment]:
    return list(
        session.scalars(
            select(Shipment)
            .where(Shipment.merchant_id == merchant_id, Shipment.return_request_id == return_id)
            .order_by(Shipment.id)
        )
    )


def order_lines(session: Session, merchant_id: int, ids: list[int]) -> dict[int, OrderLine]:
    if not ids:
        return {}
    rows = session.scalars(select(OrderLine).where(OrderLine.merchant_id == merchant_id, OrderLine.id.in_(ids)))
    return {line.id: line for line in rows}
