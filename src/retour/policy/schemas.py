"""The policy document: an ordered list of condition → action rules, validated strictly so that a
typo in a rule is refused with the name of the field instead of being silently ignored."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Resolution = Literal["refund", "store_credit", "exchange", "keep"]
Method = Literal["prepaid_label", "drop_off", "in_store", "home_pickup", "customer_ships"]
WindowFrom = Literal["delivery", "order", "shipment"]
Status = Literal["eligible", "needs_review", "not_eligible"]
CustomerSegment = Literal["vip", "serial_returner", "new_customer", "returning_customer"]

ALL_RESOLUTIONS: tuple[Resolution, ...] = ("refund", "store_credit", "exchange", "keep")
ALL_METHODS: tuple[Method, ...] = ("prepaid_label", "drop_off", "in_store", "home_pickup", "customer_ships")
ALL_SEGMENTS: tuple[CustomerSegment, ...] = ("vip", "serial_returner", "new_customer", "returning_customer")
MAX_AMOUNT = 10**12
"""The largest amount a policy may name (minor units), as for prices: beyond it no money is real."""
_MONTH_DAY = re.compile(r"^(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A sentence in both languages."""

    en: str = Field(min_length=1, max_length=500)
    fr: str = Field(min_length=1, max_length=500)

    def in_language(self, language: str) -> str:
        return self.fr if language == "fr" else self.en


def _check_month_day(value: str) -> str:
    if not _MONTH_DAY.match(value):
        raise ValueError("must be a month-day like 11-15")
    return value


class Conditions(Strict):
    """All conditions given must hold for the rule to fire. An empty set always fires."""

    days_since_delivery_gt: int | None = Field(default=None, ge=0)
    days_since_delivery_lte: int | None = Field(default=None, ge=0)
    days_since_order_gt: int | None = Field(default=None, ge=0)
    days_since_order_lte: int | None = Field(default=None, ge=0)
    order_placed_from: date | None = None
    order_placed_to: date | None = None
    order_placed_between_month_days: tuple[str, str] | None = None
    skus: list[str] | None = None
    product_ids: list[str] | None = None
    categories: list[str] | None = None
    tags_any: list[str] | None = None
    is_final_sale: bool | None = None
    is_discounted: bool | None = None
    unit_price_gte: int | None = Field(
        default=None, ge=0, le=MAX_AMOUNT, description="price paid per unit, minor units"
    )
    unit_price_lt: int | None = Field(default=None, ge=0, le=MAX_AMOUNT, description="price paid per unit, minor units")
    customer_tags_any: list[str] | None = None
    countries: list[str] | None = None
    reasons: list[str] | None = None
    earlier_returns_gte: int | None = Field(default=None, ge=0)
    customer_segment_in: list[CustomerSegment] | None = Field(
        default=None,
        min_length=1,
        description="the customer is in at least one of these segments (policy.rules.customer_segments)",
    )

    @field_validator("order_placed_between_month_days")
    @classmethod
    def _month_days(cls, value: tuple[str, str] | None) -> tuple[str, str] | None:
        if value is not None:
            _check_month_day(value[0])
            _check_month_day(value[1])
        return value

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: list[str] | None) -> list[str] | None:
        return [country.upper() for country in value] if value is not None else None


class Actions(Strict):
    window_days: int | None = Field(default=None, ge=0, le=3650)
    window_from: WindowFrom | None = None
    return_until: date | None = None
    return_until_month_day: str | None = None
    resolutions: list[Resolution] | None = None
    methods: list[Method] | None = None
    restocking_fee_percent: Decimal | None = Field(default=None, ge=0, le=100)
    restocking_fee_amount: int | None = Field(default=None, ge=0, le=MAX_AMOUNT, description="per unit, minor units")
    return_shipping_fee_amount: int | None = Field(
        default=None, ge=0, le=MAX_AMOUNT, description="per return, minor units"
    )
    bonus_credit_percent: Decimal | None = Field(default=None, ge=0, le=100)
    photos_required: bool | None = None
    manual_review: bool | None = None
    waive_fees: bool | None = None
    deny: bool | None = None
    message: Text | None = None

    @field_validator("return_until_month_day")
    @classmethod
    def _month_day(cls, value: str | None) -> str | None:
        return _check_month_day(value) if value is not None else None

    @model_validator(mode="after")
    def _deny_needs_message(self) -> Actions:
        if self.deny and self.message is None:
            raise ValueError("a rule that denies must say why in 'message' (en and fr)")
        return self


class Rule(Strict):
    id: str = Field(min_length=1, max_length=60, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    name: Text
    when: Conditions = Field(default_factory=Conditions)
    then: Actions
    stop: bool = False


class Defaults(Strict):
    window_days: int = Field(default=30, ge=0, le=3650)
    window_from: WindowFrom = "delivery"
    resolutions: list[Resolution] = Field(
        default_factory=lambda: list[Resolution](["refund", "store_credit", "exchange"])
    )
    methods: list[Method] = Field(default_factory=lambda: list[Method](["prepaid_label", "drop_off", "customer_ships"]))
    restocking_fee_percent: Decimal = Field(default=Decimal(0), ge=0, le=100)
    restocking_fee_amount: int = Field(default=0, ge=0, le=MAX_AMOUNT)
    return_shipping_fee_amount: int = Field(default=0, ge=0, le=MAX_AMOUNT)
    bonus_credit_percent: Decimal = Field(default=Decimal(0), ge=0, le=100)
    photos_required: bool = False
    auto_approve: bool = True
    refund_shipping: bool = False
    # A label not used within this many days expires, and so does its return.
    label_validity_days: int = Field(default=30, ge=1, le=365)


class PolicyDocument(Strict):
    defaults: Defaults = Field(default_factory=Defaults)
    rules: list[Rule] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _unique_rule_ids(self) -> PolicyDocument:
        seen: set[str] = set()
        for rule in self.rules:
            if rule.id in seen:
                raise ValueError(f"rule id '{rule.id}' is used twice")
            seen.add(rule.id)
        return self
