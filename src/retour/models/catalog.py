from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from retour.models.base import Amount, Base, Id, Json, created_at, merchant_fk, pk, updated_at


class Product(Base):
    __tablename__ = "product"
    __table_args__ = (UniqueConstraint("merchant_id", "external_id"),)

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    external_id: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(100), default="")
    tags: Mapped[list[Any]] = mapped_column(Json, default=list)
    image_url: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    variants: Mapped[list[Variant]] = relationship(back_populates="product", lazy="raise", order_by="Variant.id")


class Variant(Base):
    __tablename__ = "variant"
    __table_args__ = (
        UniqueConstraint("merchant_id", "sku"),
        Index("ix_variant_merchant_id_product_id", "merchant_id", "product_id"),
        CheckConstraint("price_amount >= 0", name="price_not_negative"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    product_id: Mapped[int] = mapped_column(Id, ForeignKey("product.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(100))
    sku: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300), default="")
    price_amount: Mapped[int] = mapped_column(Amount, default=0)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    is_final_sale: Mapped[bool] = mapped_column(default=False)
    weight_grams: Mapped[int | None]
    # Units the shop can sell now, as its platform last said; None when the shop does not send
    # stock (every variant is then offered for exchange).
    inventory_quantity: Mapped[int | None]
    attributes: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    product: Mapped[Product] = relationship(back_populates="variants", lazy="raise")
