from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from retour.models.base import Amount, Base, Id, Json, created_at, merchant_fk, pk, updated_at

RETURN_STATUSES = ("requested", "approved", "rejected", "cancelled", "in_progress", "completed", "expired")
OPEN_STATUSES = ("requested", "approved", "in_progress")


class ReturnRequest(Base):
    """The RMA header. Its status follows ``return_request.rules.transition``."""

    __tablename__ = "return_request"
    __table_args__ = (
        UniqueConstraint("merchant_id", "number"),
        Index("ix_return_request_merchant_id_status_created_at", "merchant_id", "status", "created_at"),
        Index("ix_return_request_merchant_id_order_id", "merchant_id", "order_id"),
        Index("ix_return_request_merchant_id_customer_id", "merchant_id", "customer_id"),
        CheckConstraint(
            "status IN ('requested', 'approved', 'rejected', 'cancelled', 'in_progress', 'completed', 'expired')",
            name="status",
        ),
        CheckConstraint("resolution IN ('refund', 'store_credit', 'exchange', 'keep')", name="resolution"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    number: Mapped[str] = mapped_column(String(20))
    order_id: Mapped[int] = mapped_column(Id, ForeignKey("order.id", ondelete="RESTRICT"))
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customer.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(20))
    resolution: Mapped[str] = mapped_column(String(20))
    method: Mapped[str] = mapped_column(String(30))
    channel: Mapped[str] = mapped_column(String(20), default="api")
    currency: Mapped[str] = mapped_column(String(3))
    policy_version: Mapped[int]
    needs_review: Mapped[bool] = mapped_column(default=False)
    review_reasons: Mapped[list[Any]] = mapped_column(Json, default=list)
    quote: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    refund_estimate_amount: Mapped[int] = mapped_column(Amount, default=0)
    decision_note: Mapped[str | None] = mapped_column(String(2000))
    gift_recipient_email: Mapped[str | None] = mapped_column(String(320))
    """Set for a gift return: the recipient, who gets the store credit (never the buyer's card)."""
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    approved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]

    lines: Mapped[list[ReturnLine]] = relationship(
        back_populates="return_request",
        lazy="raise",
        order_by="ReturnLine.id",
        cascade="all, delete-orphan",
    )


class ReturnLine(Base):
    """One order line in a return, with its quantity ledger:
    requested ≥ approved ≥ received ≥ accepted + rejected, accepted ≥ restocked, refunded, exchanged."""

    __tablename__ = "return_line"
    __table_args__ = (
        UniqueConstraint("merchant_id", "return_request_id", "order_line_id"),
        Index("ix_return_line_merchant_id_order_line_id", "merchant_id", "order_line_id"),
        CheckConstraint("requested_quantity > 0", name="requested_positive"),
        CheckConstraint(
            "approved_quantity >= 0 AND approved_quantity <= requested_quantity", name="approved_le_requested"
        ),
        CheckConstraint(
            "received_quantity >= 0 AND received_quantity <= approved_quantity", name="received_le_approved"
        ),
        CheckConstraint("accepted_quantity >= 0 AND rejected_quantity >= 0", name="inspected_not_negative"),
        CheckConstraint("accepted_quantity + rejected_quantity <= received_quantity", name="inspected_le_received"),
        CheckConstraint(
            "restocked_quantity >= 0 AND restocked_quantity <= accepted_quantity",
            name="restocked_le_accepted",
        ),
        CheckConstraint("refunded_quantity >= 0 AND exchanged_quantity >= 0", name="settled_not_negative"),
        CheckConstraint("refunded_quantity + exchanged_quantity <= requested_quantity", name="settled_le_requested"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    return_request_id: Mapped[int] = mapped_column(Id, ForeignKey("return_request.id", ondelete="CASCADE"), index=True)
    order_line_id: Mapped[int] = mapped_column(Id, ForeignKey("order_line.id", ondelete="RESTRICT"))
    requested_quantity: Mapped[int]
    approved_quantity: Mapped[int] = mapped_column(default=0)
    received_quantity: Mapped[int] = mapped_column(default=0)
    accepted_quantity: Mapped[int] = mapped_column(default=0)
    rejected_quantity: Mapped[int] = mapped_column(default=0)
    restocked_quantity: Mapped[int] = mapped_column(default=0)
    refunded_quantity: Mapped[int] = mapped_column(default=0)
    exchanged_quantity: Mapped[int] = mapped_column(default=0)
    reason_code: Mapped[str] = mapped_column(String(60))
    comment: Mapped[str] = mapped_column(String(2000), default="")
    exchange_variant_id: Mapped[int | None] = mapped_column(Id, ForeignKey("variant.id", ondelete="SET NULL"))
    eligibility: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)

    return_request: Mapped[ReturnRequest] = relationship(back_populates="lines", lazy="raise")
