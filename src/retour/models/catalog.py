from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, UniqueConstraint
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
        CheckConstraint("weight_mg IS NULL OR weight_mg >= 0", name="weight_not_negative"),
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
    # Catalogue weight in integer milligrams: jewelry is weighed to the tenth of a gram (a 3.4 g
    # ring must not be catalogued as 3 g when the precision scale's tolerance is 0.2 g).
    weight_mg: Mapped[int | None] = mapped_column(BigInteger())
    # Units the shop can sell now, as its platform last said; None when the shop does not send
    # stock (every variant is then offered for exchange).
    inventory_quantity: Mapped[int | None]
    attributes: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    product: Mapped[Product] = relationship(back_populates="variants", lazy="raise")

    @property
    def weight_grams(self) -> Decimal | None:
        """The catalogue weight in grams, exact to the milligram (``Decimal("3.4")``)."""
        return grams_of(self.weight_mg)


def grams_of(milligrams: int | None) -> Decimal | None:
    """Milligrams as grams, without trailing zeros: 3400 -> 3.4, 12000 -> 12."""
    if milligrams is None:
        return None
    grams = Decimal(milligrams).scaleb(-3).normalize()
    return grams.quantize(Decimal(1)) if grams == grams.to_integral_value() else grams


def milligrams_of(grams: Decimal | None) -> int | None:
    """Grams (at most three decimals) as whole milligrams, rounding half to even beyond that."""
    if grams is None:
        return None
    return int((Decimal(grams) * 1000).to_integral_value(rounding=ROUND_HALF_EVEN))
