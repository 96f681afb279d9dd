from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from retour.kit.money import is_known_currency

# Orders outside these years are typos; the policy adds windows of up to ten years to these dates.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2999, 12, 31, tzinfo=UTC)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class CustomerIn(_In):
    email: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    name: str = Field(default="", max_length=200)
    language: Literal["fr", "en"] = "fr"
    tags: list[str] = Field(default_factory=list, max_length=50)


class AddressIn(_In):
    """Where the order was delivered. Postal code and country are enough for the policy and the
    portal; a real carrier's return label also needs the street, the city and a phone."""

    name: str = Field(default="", max_length=200)
    lines: list[str] = Field(default_factory=list, max_length=3)
    postal_code: str = Field(default="", max_length=20)
    city: str = Field(default="", max_length=100)
    country: str = Field(default="FR", min_length=2, max_length=2)
    phone: str = Field(default="", max_length=40)

    @field_validator("lines")
    @classmethod
    def _lines(cls, value: list[str]) -> list[str]:
        if any(len(line) > 200 for line in value):
            raise ValueError("each address line has at most 200 characters")
        return [line.strip() for line in value if line.strip()]

    @field_validator("country")
    @classmethod
    def _upper(cls, value: str) -> str:
        if not value.isalpha():
            raise ValueError("must be an ISO 3166 two-letter country code")
        return value.upper()


class OrderLineIn(_In):
    external_id: str = Field(min_length=1, max_length=100)
    sku: str = Field(min_length=1, max_length=100)
    title: str = Field(default="", max_length=300)
    quantity: int = Field(ge=1, le=10_000)
    unit_price_amount: int = Field(
        ge=0, le=10**12, description="catalogue price per unit at order time, tax included, minor units"
    )
    discount_amount: int = Field(
        default=0, ge=0, le=10**13, description="the line's share of all discounts, minor units"
    )
    tax_amount: int = Field(default=0, ge=0, le=10**13, description="tax included in what was paid, minor units")
    category: str | None = Field(default=None, max_length=100)
    tags: list[str] | None = Field(default=None, max_length=50)
    is_final_sale: bool | None = None
    attributes: dict[str, str] | None = None
    image_url: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _discount_within_price(self) -> OrderLineIn:
        if self.discount_amount > self.unit_price_amount * self.quantity:
            raise ValueError("discount_amount cannot exceed unit_price_amount × quantity")
        if self.tax_amount > self.unit_price_amount * self.quantity - self.discount_amount:
            raise ValueError("tax_amount cannot exceed what was paid for the line")
        return self


class TenderIn(_In):
    kind: Literal["card", "gift_card", "store_credit", "other"]
    amount: int = Field(ge=0, le=10**13)
    reference: str | None = Field(default=None, max_length=200)


class OrderIn(_In):
    external_id: str = Field(min_length=1, max_length=100)
    number: str = Field(min_length=1, max_length=100)
    currency: str = Field(min_length=3, max_length=3)
    customer: CustomerIn
    shipping_address: AddressIn = Field(default_factory=AddressIn)
    placed_at: AwareDatetime
    shipped_at: AwareDatetime | None = None
    delivered_at: AwareDatetime | None = None
    shipping_amount: int = Field(default=0, ge=0, le=10**12)
    tags: list[str] = Field(default_factory=list, max_length=50)
    gift_code: str | None = Field(default=None, max_length=40)
    lines: list[OrderLineIn] = Field(min_length=1, max_length=500)
    tenders: list[TenderIn] = Field(default_factory=list, max_length=20)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not is_known_currency(value.upper()):
            raise ValueError("unknown ISO 4217 currency")
        return value.upper()

    @field_validator("placed_at", "shipped_at", "delivered_at")
    @classmethod
    def _in_utc(cls, value: datetime | None) -> datetime | None:
        """Stored in UTC: SQLite keeps no offset, and every backend must read back the same instant."""
        if value is None:
            return None
        if not EARLIEST <= value <= LATEST:
            raise ValueError("must be between 1970 and 2999")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _consistent(self) -> OrderIn:
        ids = [line.external_id for line in self.lines]
        if len(ids) != len(set(ids)):
            raise ValueError("lines: each line needs its own external_id")
        if self.shipped_at and self.shipped_at < self.placed_at:
            raise ValueError("shipped_at is before placed_at")
        if self.delivered_at and self.delivered_at < self.placed_at:
            raise ValueError("delivered_at is before placed_at")
        return self


class OrderLineOut(BaseModel):
    id: int
    external_id: str
    sku: str
    title: str
    category: str
    tags: list[str]
    attributes: dict[str, str]
    image_url: str | None
    is_final_sale: bool
    quantity: int
    unit_price_amount: int
    discount_amount: int
    tax_amount: int
    paid_amount: int


class TenderOut(BaseModel):
    kind: str
    amount: int
    reference: str | None


class AddressOut(BaseModel):
    name: str = ""
    lines: list[str] = Field(default_factory=list)
    postal_code: str = ""
    city: str = ""
    country: str = ""
    phone: str = ""


class OrderOut(BaseModel):
    id: int
    external_id: str
    number: str
    currency: str
    email: str
    customer_name: str
    customer_id: int
    postal_code: str
    country: str
    shipping_address: AddressOut | None = None
    language: str
    placed_at: datetime
    shipped_at: datetime | None
    delivered_at: datetime | None
    shipping_amount: int
    total_paid_amount: int
    tags: list[str]
    lines: list[OrderLineOut]
    tenders: list[TenderOut]
