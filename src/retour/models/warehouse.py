"""The warehouse side of a return: parcels received, the units they held, and each unit's
inspection and disposition. Checklists per shop and category override the built-in ones."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from retour.models.base import Base, Id, Json, created_at, merchant_fk, pk, updated_at

RECEIPT_OUTCOMES = ("as_expected", "partial", "empty_box", "wrong_item", "unexpected_items")
UNIT_STATUSES = ("awaiting_inspection", "inspected", "in_repair", "in_refurbishment", "done")
GRADES = ("new", "open_box", "used", "lightly_damaged", "heavily_damaged", "defective", "wrong_item", "missing")
DISPOSITIONS = (
    "restock",
    "repackage_and_restock",
    "refurbish",
    "repair",
    "resell_second_hand",
    "liquidate",
    "donate",
    "recycle",
    "destroy",
    "return_to_vendor",
    "quarantine",
)


def _in(column: str, values: tuple[str, ...], *, nullable: bool = False) -> str:
    listed = ", ".join(f"'{value}'" for value in values)
    return f"{column} IS NULL OR {column} IN ({listed})" if nullable else f"{column} IN ({listed})"


class StockLocation(Base):
    """A warehouse or store holding stock. ``countries_served`` (ISO codes) also makes it the local
    return address of those countries; ``is_default`` is the fallback for the others."""

    __tablename__ = "stock_location"
    __table_args__ = (
        UniqueConstraint("merchant_id", "code"),
        CheckConstraint(_in("kind", ("warehouse", "store")), name="kind"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    code: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="warehouse")
    address: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    countries_served: Mapped[list[Any]] = mapped_column(Json, default=list)
    is_default: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class Receipt(Base):
    """One parcel opened at the warehouse for a return (a return may arrive in several)."""

    __tablename__ = "receipt"
    __table_args__ = (
        Index("ix_receipt_merchant_id_return_request_id", "merchant_id", "return_request_id"),
        CheckConstraint(_in("outcome", RECEIPT_OUTCOMES), name="outcome"),
        CheckConstraint("weight_grams IS NULL OR weight_grams >= 0", name="weight_not_negative"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    return_request_id: Mapped[int] = mapped_column(Id, ForeignKey("return_request.id", ondelete="CASCADE"))
    shipment_id: Mapped[int | None] = mapped_column(Id, ForeignKey("shipment.id", ondelete="SET NULL"))
    outcome: Mapped[str] = mapped_column(String(20))
    weight_grams: Mapped[int | None]
    notes: Mapped[str] = mapped_column(String(2000), default="")
    received_by_id: Mapped[str | None] = mapped_column(String(60))
    received_by_label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = created_at()

    lines: Mapped[list[ReceiptLine]] = relationship(
        back_populates="receipt", lazy="raise", order_by="ReceiptLine.id", cascade="all, delete-orphan"
    )


class ReceiptLine(Base):
    """What a parcel held: units of a return line, or (``return_line_id`` empty) units nobody
    expected."""

    __tablename__ = "receipt_line"
    __table_args__ = (
        Index("ix_receipt_line_merchant_id_receipt_id", "merchant_id", "receipt_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    receipt_id: Mapped[int] = mapped_column(Id, ForeignKey("receipt.id", ondelete="CASCADE"))
    return_line_id: Mapped[int | None] = mapped_column(Id, ForeignKey("return_line.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int]

    receipt: Mapped[Receipt] = relationship(back_populates="lines", lazy="raise")


class InspectionUnit(Base):
    """One received unit, from the parcel to its final disposition. Status:
    ``awaiting_inspection -> inspected -> done``, or through ``in_repair``/``in_refurbishment``
    and back to ``done`` with a final disposition. ``return_line_id`` is empty for an unexpected
    item, which is always rejected."""

    __tablename__ = "inspection_unit"
    __table_args__ = (
        Index("ix_inspection_unit_merchant_id_status_id", "merchant_id", "status", "id"),
        Index("ix_inspection_unit_merchant_id_return_request_id", "merchant_id", "return_request_id"),
        Index("ix_inspection_unit_merchant_id_return_line_id", "merchant_id", "return_line_id"),
        CheckConstraint(_in("status", UNIT_STATUSES), name="status"),
        CheckConstraint(_in("grade", GRADES, nullable=True), name="grade"),
        CheckConstraint(_in("disposition", DISPOSITIONS, nullable=True), name="disposition"),
        CheckConstraint(_in("final_disposition", DISPOSITIONS, nullable=True), name="final_disposition"),
        CheckConstraint(
            "status = 'awaiting_inspection' OR (grade IS NOT NULL AND accepted IS NOT NULL AND disposition IS NOT NULL)",
            name="inspected_complete",
        ),
        CheckConstraint("status <> 'done' OR final_disposition IS NOT NULL", name="done_has_final_disposition"),
        CheckConstraint(
            "measured_weight_milligrams IS NULL OR measured_weight_milligrams >= 0", name="weight_not_negative"
        ),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    return_request_id: Mapped[int] = mapped_column(Id, ForeignKey("return_request.id", ondelete="CASCADE"))
    return_line_id: Mapped[int | None] = mapped_column(Id, ForeignKey("return_line.id", ondelete="CASCADE"))
    receipt_line_id: Mapped[int] = mapped_column(Id, ForeignKey("receipt_line.id", ondelete="CASCADE"))
    sku: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300), default="")
    category: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(20), default="awaiting_inspection")
    grade: Mapped[str | None] = mapped_column(String(20))
    checklist_answers: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    """The checklist as asked (``checklist``), the answers and the findings, kept as they were."""
    measured_weight_milligrams: Mapped[int | None]
    expected_weight_milligrams: Mapped[int | None]
    photos: Mapped[list[Any]] = mapped_column(Json, default=list)
    notes: Mapped[str] = mapped_column(String(2000), default="")
    inspector_id: Mapped[str | None] = mapped_column(String(60))
    inspector_label: Mapped[str] = mapped_column(String(200), default="")
    inspected_at: Mapped[datetime | None]
    accepted: Mapped[bool | None]
    rejection_reason: Mapped[dict[str, Any] | None] = mapped_column(Json)
    """``{rule_id, en, fr}``: why the unit was refused, for the customer."""
    disposition: Mapped[str | None] = mapped_column(String(30))
    disposition_reason: Mapped[dict[str, Any] | None] = mapped_column(Json)
    """``{rule_id, en, fr}``: the rule that chose the disposition, or the inspector's override reason."""
    disposition_overridden: Mapped[bool] = mapped_column(default=False)
    final_disposition: Mapped[str | None] = mapped_column(String(30))
    stock_location_id: Mapped[int | None] = mapped_column(Id, ForeignKey("stock_location.id", ondelete="SET NULL"))
    disposed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()


class InspectionChecklist(Base):
    """A shop's own checklist for a category (or a family such as ``jewelry``), replacing the
    built-in one. ``items`` are ``receiving.rules.ChecklistItem`` dictionaries."""

    __tablename__ = "inspection_checklist"
    __table_args__ = (UniqueConstraint("merchant_id", "category"),)

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    category: Mapped[str] = mapped_column(String(100))
    items: Mapped[list[Any]] = mapped_column(Json, default=list)
    created_at: Mapped[datetime] = created_at()
    updated_at: Mapped[datetime] = updated_at()
