from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator

from retour.kit.money import is_known_currency


def _json_number(value: Decimal) -> int | float:
    """A weight as a JSON number, whole grams as integers (``12``), others with their decimals
    (``3.4``): three decimals at most, so the float is exact enough to read back."""
    return int(value) if value == value.to_integral_value() else float(value)


Grams = Annotated[Decimal, PlainSerializer(_json_number, return_type=float, when_used="json")]
"""A weight in grams as the API shows it: exact in Python, a JSON number on the wire."""


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=100)
    external_id: str | None = Field(default=None, max_length=100)
    title: str = Field(default="", max_length=300)
    price_amount: int = Field(ge=0, le=10**12, description="minor units")
    is_final_sale: bool = False
    weight_grams: Decimal | None = Field(
        default=None, ge=0, le=10**7, decimal_places=3, description="grams, to the milligram (3.4 for a 3.4 g ring)"
    )
    inventory_quantity: int | None = Field(
        default=None,
        ge=0,
        le=10**9,
        description="units the shop can sell now; leave out if you do not track stock (exchanges then always offered)",
    )
    attributes: dict[str, str] = Field(default_factory=dict)


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    external_id: str = Field(min_length=1, max_length=100)
    title: str = Field(min_length=1, max_length=300)
    category: str = Field(default="", max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=50)
    image_url: str | None = Field(default=None, max_length=500)
    currency: str = Field(default="EUR", min_length=3, max_length=3)
    variants: list[VariantIn] = Field(min_length=1, max_length=500)

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not is_known_currency(value.upper()):
            raise ValueError("unknown ISO 4217 currency")
        return value.upper()


class VariantOut(BaseModel):
    id: int
    sku: str
    title: str
    price_amount: int
    currency: str
    is_final_sale: bool
    weight_grams: Grams | None
    inventory_quantity: int | None = None
    attributes: dict[str, Any]


class ProductOut(BaseModel):
    id: int
    external_id: str
    title: str
    category: str
    tags: list[str]
    image_url: str | None
    variants: list[VariantOut]
