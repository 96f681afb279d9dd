"""Stock locations, stock levels and ledger movements as the API shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_ID = 2**63 - 1


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AddressIn(_In):
    lines: list[str] = Field(default_factory=list, max_length=4)
    postal_code: str = Field(default="", max_length=20)
    city: str = Field(default="", max_length=100)
    country: str = Field(default="", max_length=2)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str) -> str:
        if value and (len(value) != 2 or not value.isalpha()):
            raise ValueError("must be an ISO 3166 two-letter country code")
        return value.upper()


class LocationIn(_In):
    code: str = Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
    name: str = Field(min_length=1, max_length=200)
    kind: Literal["warehouse", "store"] = "warehouse"
    address: AddressIn = Field(default_factory=AddressIn)
    countries_served: list[str] = Field(default_factory=list, max_length=250)
    is_default: bool = Field(default=False, description="the return address of countries no location serves")

    @field_validator("code")
    @classmethod
    def _upper_code(cls, value: str) -> str:
        return value.upper()

    @field_validator("countries_served")
    @classmethod
    def _countries(cls, values: list[str]) -> list[str]:
        for value in values:
            if len(value) != 2 or not value.isalpha():
                raise ValueError(f"'{value}' is not an ISO 3166 two-letter country code")
        return sorted({value.upper() for value in values})


class LocationOut(BaseModel):
    id: int
    code: str
    name: str
    kind: str
    address: dict[str, Any]
    countries_served: list[str]
    is_default: bool
    is_active: bool


class StockLevelOut(BaseModel):
    location_code: str
    location_name: str
    on_hand: int


class StockOut(BaseModel):
    sku: str
    on_hand: int
    """All locations together."""
    locations: list[StockLevelOut]


class MovementIn(_In):
    sku: str = Field(min_length=1, max_length=100)
    location_code: str = Field(min_length=1, max_length=40)
    kind: Literal["reservation", "release", "write_off", "sale"]
    quantity: int = Field(ge=1, le=100_000, description="units moved, always positive; the kind gives the sign")
    return_line_id: int | None = Field(
        default=None, ge=1, le=MAX_ID, description="required for reservations and releases"
    )
    note: str = Field(default="", max_length=500)


class MovementOut(BaseModel):
    id: int
    sku: str
    location_code: str
    kind: str
    quantity: int
    """Signed: what the movement added to (or took from) stock on hand."""
    return_line_id: int | None
    inspection_unit_id: int | None
    note: str
    actor: str
    created_at: datetime
