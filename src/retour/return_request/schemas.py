from __future__ import annotations

from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from retour.kit.ids import MAX_ID
from retour.policy.schemas import Method, Resolution, Status


class ReturnLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    order_line_id: int = Field(ge=1, le=MAX_ID)
    quantity: int = Field(ge=1, le=10_000)
    reason_code: str = Field(min_length=1, max_length=60)
    comment: str = Field(default="", max_length=2000)
    exchange_variant_id: int | None = Field(default=None, ge=1, le=MAX_ID)


class ReturnIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    order_id: int = Field(ge=1, le=MAX_ID)
    resolution: Resolution
    method: Method
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=200)


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=2000)


class TextOut(BaseModel):
    rule_id: str
    en: str
    fr: str


class ReturnableLineOut(BaseModel):
    order_line_id: int
    sku: str
    title: str
    image_url: str | None
    quantity: int
    returnable_quantity: int
    status: Status
    deadline: date | None
    resolutions: list[Resolution]
    methods: list[Method]
    unit_paid_amount: int
    restocking_fee_percent: str
    restocking_fee_amount: int
    return_shipping_fee_amount: int
    bonus_credit_percent: str
    photos_required: bool
    explanations: list[TextOut]
    refusal: TextOut | None


class ReturnableOut(BaseModel):
    order_id: int
    order_number: str
    currency: str
    policy_version: int
    lines: list[ReturnableLineOut]


class QuoteLineOut(BaseModel):
    order_line_id: int
    quantity: int
    item_amount: int
    tax_amount: int
    restocking_fee_amount: int


class QuoteOut(BaseModel):
    currency: str
    resolution: str
    items_amount: int
    tax_amount: int
    restocking_fee_amount: int
    return_shipping_fee_amount: int
    shipping_refund_amount: int
    bonus_amount: int
    total_amount: int
    lines: list[QuoteLineOut]


class ReturnLineOut(BaseModel):
    id: int
    order_line_id: int
    sku: str
    title: str
    reason_code: str
    comment: str
    exchange_variant_id: int | None
    requested_quantity: int
    approved_quantity: int
    received_quantity: int
    accepted_quantity: int
    rejected_quantity: int
    restocked_quantity: int
    refunded_quantity: int
    exchanged_quantity: int


class TimelineEventOut(BaseModel):
    at: datetime
    action: str
    actor_type: str
    actor_label: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class ReturnOut(BaseModel):
    id: int
    number: str
    order_id: int
    order_number: str
    customer_email: str
    status: str
    resolution: str
    method: str
    channel: str
    currency: str
    policy_version: int
    needs_review: bool
    review_reasons: list[TextOut]
    decision_note: str | None
    quote: QuoteOut
    allowed_actions: list[str]
    created_at: datetime
    updated_at: datetime
    lines: list[ReturnLineOut]
    timeline: list[TimelineEventOut] | None = None


class ReturnPage(BaseModel):
    items: list[ReturnOut]
    next_cursor: str | None
