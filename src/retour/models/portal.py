"""The customer portal's own state: short-lived sessions bound to one order, and failed lookups
(kept in the database so that the rate limit holds across several server processes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from retour.models.base import Base, Id, Json, Timestamp, created_at, merchant_fk, pk

LOOKUP_SCOPES = ("ip", "order")


class PortalSession(Base):
    """A successful order lookup: lets its bearer see that one order and start returns from it,
    until ``expires_at``. Only the SHA-256 of the token (kept in the signed cookie) is stored.
    ``draft`` holds the customer's choices between the steps of the flow."""

    __tablename__ = "portal_session"
    __table_args__ = (
        UniqueConstraint("merchant_id", "token_hash"),
        Index("ix_portal_session_merchant_id_expires_at", "merchant_id", "expires_at"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    token_hash: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int] = mapped_column(Id, ForeignKey("order.id", ondelete="CASCADE"))
    is_gift: Mapped[bool] = mapped_column(default=False)
    gift_recipient_email: Mapped[str | None] = mapped_column(String(320))
    draft: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = created_at()
    expires_at: Mapped[datetime] = mapped_column(Timestamp)


class PortalLookupFailure(Base):
    """One failed order lookup, counted per client address and per order number. ``key`` is the
    SHA-256 of the normalised address or number, so the table holds no personal data in clear."""

    __tablename__ = "portal_lookup_failure"
    __table_args__ = (
        Index("ix_portal_lookup_failure_merchant_id_scope_key_created_at", "merchant_id", "scope", "key", "created_at"),
        CheckConstraint("scope IN ('ip', 'order')", name="scope"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    scope: Mapped[str] = mapped_column(String(10))
    key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at()
