from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from retour.models.base import Amount, Base, Id, Json, created_at, merchant_fk, pk, updated_at


class Customer(Base):
    """A shop's customer, known by email. Tags come from the shop (``vip``...)."""

    __tablename__ = "customer"
    __table_args__ = (UniqueConstraint("merchant_id", "email"),)

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(5), default="fr")
    tags: Mapped[list[Any]] = mapped_column(Json, default=list)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Order(Base):
    """An order as the shop saw it: prices actually paid, dates, tenders."""

    __tablename__ = "order"
    __table_args__ = (
        UniqueConstraint("merchant_id", "external_id"),
        UniqueConstraint("merchant_id", "number"),
        Index("ix_order_merchant_id_customer_id", "merchant_id", "customer_id"),
        Index("ix_order_merchant_id_placed_at", "merchant_id", "placed_at"),
        CheckConstraint("shipping_amount >= 0", name="shipping_not_negative"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    external_id: Mapped[str] = mapped_column(String(100))
    number: Mapped[str] = mapped_column(String(100))
    customer_id: Mapped[int] = mapped_column(Id, ForeignKey("customer.id", ondelete="RESTRICT"))
    email: Mapped[str] = mapped_column(String(320))
    customer_name: Mapped[str] = mapped_column(String(200), default="")
    postal_code: Mapped[str] = mapped_column(String(20), default="")
    country: Mapped[str] = mapped_column(String(2), default="FR")
    language: Mapped[str] = mapped_column(String(5), default="fr")
    currency: Mapped[str] = mapped_column(String(3))
    placed_at: Mapped[datetime]
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    shipping_amount: Mapped[int] = mapped_column(Amount, default=0)
    tags: Mapped[list[Any]] = mapped_column(Json, default=list)
    gift_code: Mapped[str | None] = mapped_column(String(40))
    # Where the order went, as the shop sent it: ``{"name", "lines": [...], "postal_code", "city",
    # "country", "phone"}``. A carrier's return label needs it (the sender is the customer).
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(Json)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()

    lines: Mapped[list[OrderLine]] = relationship(
        back_populates="order", lazy="raise", order_by="OrderLine.id", cascade="all, delete-orphan"
    )
    tenders: Mapped[list[Tender]] = relationship(lazy="raise", order_by="Tender.id", cascade="all, delete-orphan")


class OrderLine(Base):
    """One line. ``unit_price_amount`` is the catalogue price at order time (tax included);
    ``discount_amount`` is the line's share of all discounts; ``tax_amount`` the tax included
    in what was paid. Paid = unit price × quantity − discount."""

    __tablename__ = "order_line"
    __table_args__ = (
        UniqueConstraint("merchant_id", "order_id", "external_id"),
        # Recent sales of a SKU (restock routing): the shop's lines of that SKU, then their orders.
        Index("ix_order_line_merchant_id_sku", "merchant_id", "sku", "order_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price_amount >= 0", name="unit_price_not_negative"),
        CheckConstraint("discount_amount >= 0", name="discount_not_negative"),
        CheckConstraint("tax_amount >= 0", name="tax_not_negative"),
        CheckConstraint("discount_amount <= unit_price_amount * quantity", name="discount_within_price"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    order_id: Mapped[int] = mapped_column(Id, ForeignKey("order.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(100))
    variant_id: Mapped[int | None] = mapped_column(Id, ForeignKey("variant.id", ondelete="SET NULL"))
    product_external_id: Mapped[str | None] = mapped_column(String(100))
    sku: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    category: Mapped[str] = mapped_column(String(100), default="")
    tags: Mapped[list[Any]] = mapped_column(Json, default=list)
    attributes: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    image_url: Mapped[str | None] = mapped_column(String(500))
    is_final_sale: Mapped[bool] = mapped_column(default=False)
    quantity: Mapped[int]
    unit_price_amount: Mapped[int] = mapped_column(Amount)
    discount_amount: Mapped[int] = mapped_column(Amount, default=0)
    tax_amount: Mapped[int] = mapped_column(Amount, default=0)

    order: Mapped[Order] = relationship(back_populates="lines", lazy="raise")


class Tender(Base):
    """How the order was paid: card, gift card, store credit."""

    __tablename__ = "tender"
    __table_args__ = (
        CheckConstraint("kind IN ('card', 'gift_card', 'store_credit', 'other')", name="kind"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        Index("ix_tender_merchant_id_order_id", "merchant_id", "order_id"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    order_id: Mapped[int] = mapped_column(Id, ForeignKey("order.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[int] = mapped_column(Amount)
    reference: Mapped[str | None] = mapped_column(String(200))
