"""The inventory ledger. Stock on hand per SKU and location is ``SUM(quantity)``: derived from the
movements, never stored."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from retour.models.base import Base, Id, created_at, merchant_fk, pk

MOVEMENT_KINDS = ("restock", "reservation", "release", "write_off", "sale")


class InventoryMovement(Base):
    """One signed movement of stock: ``restock`` and ``release`` add, ``reservation``,
    ``write_off`` and ``sale`` take. Restocks, reservations and releases name their return line."""

    __tablename__ = "inventory_movement"
    __table_args__ = (
        Index(
            "ix_inventory_movement_merchant_id_sku_location",
            "merchant_id",
            "sku",
            "stock_location_id",
            "created_at",
        ),
        Index("ix_inventory_movement_merchant_id_return_line_id", "merchant_id", "return_line_id"),
        CheckConstraint("kind IN ('restock', 'reservation', 'release', 'write_off', 'sale')", name="kind"),
        CheckConstraint(
            "(kind IN ('restock', 'release') AND quantity > 0) OR "
            "(kind IN ('reservation', 'write_off', 'sale') AND quantity < 0)",
            name="quantity_sign",
        ),
        CheckConstraint(
            "kind NOT IN ('restock', 'reservation', 'release') OR return_line_id IS NOT NULL",
            name="return_line_referenced",
        ),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    sku: Mapped[str] = mapped_column(String(100))
    stock_location_id: Mapped[int] = mapped_column(Id, ForeignKey("stock_location.id", ondelete="RESTRICT"))
    quantity: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    return_line_id: Mapped[int | None] = mapped_column(Id, ForeignKey("return_line.id", ondelete="RESTRICT"))
    inspection_unit_id: Mapped[int | None] = mapped_column(Id, ForeignKey("inspection_unit.id", ondelete="RESTRICT"))
    note: Mapped[str] = mapped_column(String(500), default="")
    actor_label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = created_at()
