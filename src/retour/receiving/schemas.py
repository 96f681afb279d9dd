"""What the warehouse sends and reads: parcels, inspections, dispositions, checklists, queues and
the shop's warehouse settings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from retour.catalog.schemas import Grams
from retour.receiving.rules import GRADES, Disposition, Grade, Outcome

MAX_ID = 2**63 - 1
RESELLABLE = tuple(grade for grade in GRADES if grade not in ("wrong_item", "missing"))


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TextOut(BaseModel):
    rule_id: str
    en: str
    fr: str


# --- receiving ------------------------------------------------------------------------------------


class ReceivedLineIn(_In):
    return_line_id: int = Field(ge=1, le=MAX_ID)
    quantity: int = Field(ge=1, le=10_000)


class UnexpectedItemIn(_In):
    sku: str = Field(min_length=1, max_length=100, description="what the label of the unexpected item says")
    quantity: int = Field(ge=1, le=10_000)


class ReceiptIn(_In):
    lines: list[ReceivedLineIn] = Field(default_factory=list, max_length=200)
    unexpected: list[UnexpectedItemIn] = Field(default_factory=list, max_length=200)
    weight_grams: int | None = Field(default=None, ge=0, le=10**7, description="the parcel on the scale")
    outcome: Outcome | None = Field(default=None, description="derived from the lines when left out")
    shipment_id: int | None = Field(default=None, ge=1, le=MAX_ID)
    notes: str = Field(default="", max_length=2000)


class ExpectedLineOut(BaseModel):
    return_line_id: int
    sku: str
    title: str
    category: str
    reason_code: str
    approved_quantity: int
    received_quantity: int
    remaining_quantity: int
    expected_weight_grams: Grams | None


class ShipmentOut(BaseModel):
    id: int
    method: str
    carrier: str
    tracking_number: str | None
    status: str


class ScanOut(BaseModel):
    return_id: int
    number: str
    status: str
    order_number: str
    customer_name: str
    customer_email: str
    resolution: str
    matched_by: Literal["rma_number", "tracking_number"]
    shipment: ShipmentOut | None
    """The parcel the code belongs to (a tracking number), else the one expected next."""
    lines: list[ExpectedLineOut]
    expected_weight_grams: Grams | None
    """The catalogue weight of what is still expected, when every item has one."""
    units: list[UnitOut]


class ReceiptOut(BaseModel):
    id: int
    return_id: int
    return_status: str
    outcome: Outcome
    weight_grams: int | None
    shipment_id: int | None
    notes: str
    received_by: str
    created_at: datetime
    units: list[UnitOut]


# --- inspection -----------------------------------------------------------------------------------


class ChecklistItemIn(_In):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
    en: str = Field(min_length=1, max_length=300)
    fr: str = Field(min_length=1, max_length=300)
    kind: Literal["check", "weight"] = "check"
    passing: bool = Field(default=True, description="the answer of a unit in order")
    failure: Literal["reject", "note"] = Field(default="note", description="'reject' refuses the unit when it fails")
    rejection_en: str = Field(default="", max_length=500)
    rejection_fr: str = Field(default="", max_length=500)


class ChecklistIn(_In):
    items: list[ChecklistItemIn] = Field(min_length=1, max_length=40)

    @field_validator("items")
    @classmethod
    def _unique_codes(cls, items: list[ChecklistItemIn]) -> list[ChecklistItemIn]:
        codes = [item.code for item in items]
        if len(codes) != len(set(codes)):
            raise ValueError("each item needs its own code")
        return items


class ChecklistItemOut(BaseModel):
    code: str
    en: str
    fr: str
    kind: Literal["check", "weight"]
    passing: bool
    failure: Literal["reject", "note"]
    rejection_en: str
    rejection_fr: str


class ChecklistOut(BaseModel):
    category: str
    name: str
    """The category or family it was defined for, or ``default``."""
    is_shop_override: bool
    items: list[ChecklistItemOut]


class InspectionIn(_In):
    grade: Grade
    answers: dict[str, bool] = Field(default_factory=dict, max_length=40)
    measured_weight_grams: Decimal | None = Field(default=None, ge=0, le=100_000, max_digits=9, decimal_places=3)
    notes: str = Field(default="", max_length=2000)
    photos: list[str] = Field(default_factory=list, max_length=20)


class DispositionIn(_In):
    disposition: Disposition | None = Field(
        default=None, description="leave out to apply the default; another value overrides it (give a reason)"
    )
    reason: str | None = Field(default=None, max_length=500)
    location_code: str | None = Field(default=None, max_length=40, description="restock here instead of routing")


class RepairDoneIn(_In):
    final_disposition: Disposition
    grade: Grade | None = Field(default=None, description="the unit's condition after the workshop")
    location_code: str | None = Field(default=None, max_length=40)
    notes: str = Field(default="", max_length=2000)


class UnitOut(BaseModel):
    id: int
    return_id: int
    return_line_id: int | None
    sku: str
    title: str
    category: str
    status: str
    grade: str | None
    checklist: ChecklistOut | None
    answers: dict[str, bool]
    findings: list[TextOut]
    measured_weight_grams: Decimal | None
    expected_weight_grams: Decimal | None
    photos: list[str]
    notes: str
    inspector: str
    inspected_at: datetime | None
    accepted: bool | None
    rejection_reason: TextOut | None
    disposition: str | None
    disposition_reason: TextOut | None
    disposition_overridden: bool
    final_disposition: str | None
    stock_location_code: str | None
    listing_id: int | None
    disposed_at: datetime | None


class UnitPageOut(BaseModel):
    items: list[UnitOut]
    next_cursor: str | None


class QueueCountsOut(BaseModel):
    awaiting_parcel: int
    to_inspect: int
    to_dispose: int
    in_repair: int
    in_refurbishment: int
    active_listings: int


# --- settings -------------------------------------------------------------------------------------


class DispositionWhen(_In):
    grades: list[Grade] = Field(default_factory=list)
    reasons: list[str] = Field(default_factory=list, max_length=50)
    categories: list[str] = Field(default_factory=list, max_length=50)
    accepted: bool | None = None


class DispositionRuleIn(_In):
    id: str = Field(min_length=1, max_length=60)
    when: DispositionWhen = Field(default_factory=DispositionWhen)
    then: Disposition


class WarehouseSettings(_In):
    """``merchant.settings["warehouse"]``: the shop's own disposition rules (first match wins,
    before the built-in table), resale discounts per grade, a fixed restock location, and the
    precision scale's tolerance."""

    disposition_rules: list[DispositionRuleIn] = Field(default_factory=list, max_length=100)
    resale_discounts: dict[str, Decimal] = Field(default_factory=dict, description="percent off per grade")
    restock_location: str | None = Field(default=None, max_length=40)
    weight_tolerance_percent: Decimal = Field(default=Decimal(3), ge=0, le=100)
    weight_tolerance_minimum_grams: Decimal = Field(default=Decimal("0.2"), ge=0, le=1000)

    @field_validator("resale_discounts")
    @classmethod
    def _percentages(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for grade, percent in value.items():
            if grade not in RESELLABLE:
                raise ValueError(f"'{grade}' is not a grade that can be resold")
            if not Decimal(0) <= percent <= Decimal(100):
                raise ValueError(f"the discount for '{grade}' must be between 0 and 100")
        return value


ScanOut.model_rebuild()
ReceiptOut.model_rebuild()
