from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from retour.models.base import Base, Id, Json, Timestamp, created_at, merchant_fk, pk, updated_at

SHIPMENT_METHODS = ("prepaid_label", "drop_off", "in_store", "home_pickup", "customer_ships")
SHIPMENT_STATUSES = (
    "label_pending",
    "label_failed",
    "label_created",
    "in_transit",
    "delivered",
    "received",
    "lost",
    "label_expired",
    "cancelled",
)
PICKUP_SLOTS = ("09-12", "13-17")


class Shipment(Base):
    """A parcel on its way back. Status: ``label_created -> in_transit -> delivered -> received``,
    plus ``lost``, ``label_expired`` (never used in time) and ``cancelled`` (the return was
    cancelled before the parcel left). A label bought from a real carrier for the portal is
    bought by the worker: the parcel waits as ``label_pending`` (``label_failed`` if the carrier
    refused it). A return may have several parcels over its life."""

    __tablename__ = "shipment"
    __table_args__ = (
        UniqueConstraint("merchant_id", "tracking_number"),
        Index("ix_shipment_merchant_id_return_request_id", "merchant_id", "return_request_id"),
        Index("ix_shipment_merchant_id_status_created_at", "merchant_id", "status", "created_at"),
        CheckConstraint(
            "status IN ('label_pending', 'label_failed', 'label_created', 'in_transit', 'delivered', 'received',"
            " 'lost', 'label_expired', 'cancelled')",
            name="status",
        ),
        CheckConstraint(
            "method IN ('prepaid_label', 'drop_off', 'in_store', 'home_pickup', 'customer_ships')", name="method"
        ),
        CheckConstraint("pickup_slot IS NULL OR pickup_slot IN ('09-12', '13-17')", name="pickup_slot"),
        CheckConstraint(
            "method <> 'home_pickup' OR (pickup_date IS NOT NULL AND pickup_slot IS NOT NULL)",
            name="home_pickup_scheduled",
        ),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    return_request_id: Mapped[int] = mapped_column(Id, ForeignKey("return_request.id", ondelete="CASCADE"))
    method: Mapped[str] = mapped_column(String(20))
    carrier: Mapped[str] = mapped_column(String(40), default="builtin")
    tracking_number: Mapped[str | None] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(20), default="label_created")
    label_path: Mapped[str | None] = mapped_column(String(500))
    qr_payload: Mapped[str | None] = mapped_column(String(500))
    pickup_date: Mapped[date | None]
    pickup_slot: Mapped[str | None] = mapped_column(String(5))
    store_code: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    label_expires_at: Mapped[datetime | None]
    # The carrier's own id of the purchased label (to void or reconcile it with the carrier).
    carrier_reference: Mapped[str | None] = mapped_column(String(100))
    last_polled_at: Mapped[datetime | None]
    # Why the carrier refused the label (``label_failed``), in its words.
    failure_reason: Mapped[str | None] = mapped_column(String(500))
    # Where the carrier keeps the label's file, to fetch it again (a bought label is never redrawn).
    label_url: Mapped[str | None] = mapped_column(String(1000))
    # The carrier that moves the parcel when the account sells several (``ups``, ``colissimo``).
    tracking_carrier: Mapped[str | None] = mapped_column(String(60))
    # When a real scan last changed what is known of the parcel.
    last_event_at: Mapped[datetime | None]


TRACKING_EVENT_STATUSES = ("pre_transit", "in_transit", "delivered", "exception", "unknown")


class ShipmentEvent(Base):
    """One carrier scan of a parcel, stored as it came (webhook, polling or the shop's API). The
    same scan arriving twice (a webhook retried, then polled) is stored once: unique on the
    parcel and the carrier's event id."""

    __tablename__ = "shipment_event"
    __table_args__ = (
        UniqueConstraint("merchant_id", "shipment_id", "external_id"),
        Index("ix_shipment_event_merchant_id_shipment_id_occurred_at", "merchant_id", "shipment_id", "occurred_at"),
        CheckConstraint("status IN ('pre_transit', 'in_transit', 'delivered', 'exception', 'unknown')", name="status"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    shipment_id: Mapped[int] = mapped_column(Id, ForeignKey("shipment.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    carrier_status: Mapped[str] = mapped_column(String(60), default="")
    description: Mapped[str] = mapped_column(String(500), default="")
    location: Mapped[str | None] = mapped_column(String(200))
    occurred_at: Mapped[datetime]
    created_at: Mapped[datetime] = created_at()


INBOUND_WEBHOOK_STATUSES = ("pending", "processed", "ignored", "failed")


class InboundWebhook(Base):
    """A carrier's webhook as received: verified, stored first (raw body), answered, then read by
    the worker. Unique on the shop, the sender and the sender's delivery id, so a retried delivery
    is stored (and processed) once."""

    __tablename__ = "inbound_webhook"
    __table_args__ = (
        UniqueConstraint("merchant_id", "source", "external_id"),
        Index("ix_inbound_webhook_merchant_id_status_received_at", "merchant_id", "status", "received_at"),
        CheckConstraint("status IN ('pending', 'processed', 'ignored', 'failed')", name="status"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    source: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    note: Mapped[str] = mapped_column(String(500), default="")
    received_at: Mapped[datetime] = created_at()
    processed_at: Mapped[datetime | None] = mapped_column(Timestamp)


class ReturnPhoto(Base):
    """A customer's photo, re-encoded as JPEG without metadata and stored under the shop's storage
    (``<storage>/<merchant_id>/photos/<sha256>.jpg``). Uploaded before the return exists it carries
    only the portal's ``upload_token``; it is attached to the return (and line) once created."""

    __tablename__ = "return_photo"
    __table_args__ = (
        Index("ix_return_photo_merchant_id_return_request_id", "merchant_id", "return_request_id"),
        Index("ix_return_photo_merchant_id_upload_token", "merchant_id", "upload_token"),
        CheckConstraint("return_request_id IS NOT NULL OR upload_token IS NOT NULL", name="owned"),
        CheckConstraint("width > 0 AND height > 0 AND size_bytes > 0", name="dimensions_positive"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    return_request_id: Mapped[int | None] = mapped_column(Id, ForeignKey("return_request.id", ondelete="CASCADE"))
    return_line_id: Mapped[int | None] = mapped_column(Id, ForeignKey("return_line.id", ondelete="CASCADE"))
    upload_token: Mapped[str | None] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(500))
    width: Mapped[int]
    height: Mapped[int]
    size_bytes: Mapped[int]
    content_type: Mapped[str] = mapped_column(String(40), default="image/jpeg")
    original_content_type: Mapped[str] = mapped_column(String(40))
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
