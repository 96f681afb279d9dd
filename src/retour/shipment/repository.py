"""Queries of the shipment feature."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from retour.models import InboundWebhook, Merchant, OrderLine, Shipment, ShipmentEvent


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


def get_shipment(
    session: Session, merchant_id: int, shipment_id: int, *, lock: bool = False, skip_locked: bool = False
) -> Shipment | None:
    query = select(Shipment).where(Shipment.merchant_id == merchant_id, Shipment.id == shipment_id)
    if lock:
        # Decide on the row as locked, not on what the session read earlier.
        query = query.with_for_update(skip_locked=skip_locked).execution_options(populate_existing=True)
    return session.scalars(query).one_or_none()


def shipment_by_tracking(session: Session, merchant_id: int, tracking_number: str) -> Shipment | None:
    return session.scalars(
        select(Shipment).where(Shipment.merchant_id == merchant_id, Shipment.tracking_number == tracking_number)
    ).one_or_none()


def event_ids(session: Session, merchant_id: int, shipment_id: int) -> set[str]:
    return set(
        session.scalars(
            select(ShipmentEvent.external_id).where(
                ShipmentEvent.merchant_id == merchant_id, ShipmentEvent.shipment_id == shipment_id
            )
        )
    )


def events_of(session: Session, merchant_id: int, shipment_id: int) -> list[ShipmentEvent]:
    return list(
        session.scalars(
            select(ShipmentEvent)
            .where(ShipmentEvent.merchant_id == merchant_id, ShipmentEvent.shipment_id == shipment_id)
            .order_by(ShipmentEvent.occurred_at, ShipmentEvent.id)
        )
    )


def events_of_return(session: Session, merchant_id: int, return_id: int) -> list[ShipmentEvent]:
    return list(
        session.scalars(
            select(ShipmentEvent)
            .join(Shipment, Shipment.id == ShipmentEvent.shipment_id)
            .where(
                ShipmentEvent.merchant_id == merchant_id,
                Shipment.merchant_id == merchant_id,
                Shipment.return_request_id == return_id,
            )
            .order_by(ShipmentEvent.occurred_at, ShipmentEvent.id)
        )
    )


def inbound_webhook(session: Session, merchant_id: int, source: str, external_id: str) -> InboundWebhook | None:
    return session.scalars(
        select(InboundWebhook).where(
            InboundWebhook.merchant_id == merchant_id,
            InboundWebhook.source == source,
            InboundWebhook.external_id == external_id[:100],
        )
    ).one_or_none()


def get_inbound_webhook(
    session: Session, merchant_id: int, inbound_id: int, *, lock: bool = False
) -> InboundWebhook | None:
    query = select(InboundWebhook).where(InboundWebhook.merchant_id == merchant_id, InboundWebhook.id == inbound_id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    return session.scalars(query).one_or_none()


def merchant_ids(session: Session) -> list[int]:
    return list(session.scalars(select(Merchant.id).order_by(Merchant.id)))


def tracked_shipments(session: Session, merchant_id: int, statuses: tuple[str, ...], *, limit: int) -> list[Shipment]:
    """Parcels of a real carrier in these statuses, the longest unasked first."""
    return list(
        session.scalars(
            select(Shipment)
            .where(
                Shipment.merchant_id == merchant_id,
                Shipment.status.in_(statuses),
                Shipment.carrier != "builtin",
                Shipment.tracking_number.is_not(None),
            )
            .order_by(Shipment.last_polled_at.is_not(None), Shipment.last_polled_at, Shipment.id)
            .limit(limit)
        )
    )


def expiring_labels(session: Session, merchant_id: int, now: datetime) -> list[Shipment]:
    """Unscanned labels past their expiry (the caller locks each, with its return, and checks again)."""
    return list(
        session.scalars(
            select(Shipment)
            .where(
                Shipment.merchant_id == merchant_id,
                Shipment.status == "label_created",
                Shipment.label_expires_at <= now,
            )
            .order_by(Shipment.id)
        )
    )


def pending_labels(session: Session, merchant_id: int, asked_before: datetime) -> list[Shipment]:
    """Labels asked for before ``asked_before`` and still not bought."""
    return list(
        session.scalars(
            select(Shipment)
            .where(
                Shipment.merchant_id == merchant_id,
                Shipment.status == "label_pending",
                Shipment.created_at < asked_before,
            )
            .order_by(Shipment.id)
        )
    )
