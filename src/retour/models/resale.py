"""Second-hand listings made from inspected units."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from retour.models.base import Amount, Base, Id, Json, created_at, merchant_fk, pk, updated_at

LISTING_STATUSES = ("active", "sold", "withdrawn")


class ResaleListing(Base):
    """One unit offered second-hand: ``active -> sold | withdrawn``. The price is the original
    price minus the grade's discount; the descriptions say why."""

    __tablename__ = "resale_listing"
    __table_args__ = (
        UniqueConstraint("merchant_id", "inspection_unit_id"),
        Index("ix_resale_listing_merchant_id_status_id", "merchant_id", "status", "id"),
        CheckConstraint("status IN ('active', 'sold', 'withdrawn')", name="status"),
        CheckConstraint("price_amount >= 0 AND price_amount <= original_price_amount", name="price_within_original"),
        CheckConstraint("status <> 'sold' OR sold_at IS NOT NULL", name="sold_has_date"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    inspection_unit_id: Mapped[int] = mapped_column(Id, ForeignKey("inspection_unit.id", ondelete="RESTRICT"))
    sku: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    grade: Mapped[str] = mapped_column(String(20))
    original_price_amount: Mapped[int] = mapped_column(Amount)
    price_amount: Mapped[int] = mapped_column(Amount)
    currency: Mapped[str] = mapped_column(String(3))
    discount_percent: Mapped[str] = mapped_column(String(10))
    """The discount applied, as a decimal string (``"30"``, ``"12.5"``): exact, and no float."""
    description_en: Mapped[str] = mapped_column(String(2000))
    description_fr: Mapped[str] = mapped_column(String(2000))
    photos: Mapped[list[Any]] = mapped_column(Json, default=list)
    status: Mapped[str] = mapped_column(String(20), default="active")
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
    sold_at: Mapped[datetime | None]
    withdrawn_at: Mapped[datetime | None]
