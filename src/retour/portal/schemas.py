"""What the portal keeps between the steps of a return (the draft), and what a lookup asks for."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LookupMode = Literal["email", "postal_code", "gift"]


class LookupIn(BaseModel):
    """Order number plus one proof: the email, the delivery postal code, or the gift code (then
    the recipient gives their own email, which receives the store credit)."""

    model_config = ConfigDict(str_strip_whitespace=True)

    mode: LookupMode = "email"
    order_number: str = Field(default="", max_length=100)
    email: str = Field(default="", max_length=320)
    postal_code: str = Field(default="", max_length=20)
    gift_code: str = Field(default="", max_length=40)
    recipient_email: str = Field(default="", max_length=320)


class ItemChoice(BaseModel):
    """One order line as the customer filled it in on the choose page."""

    model_config = ConfigDict(str_strip_whitespace=True)

    order_line_id: int
    quantity: int = Field(default=0, ge=0)
    reason_code: str = Field(default="", max_length=60)
    comment: str = Field(default="", max_length=2000)


class DraftLine(BaseModel):
    order_line_id: int
    quantity: int
    reason_code: str
    comment: str = ""
    exchange_variant_id: int | None = None


class Draft(BaseModel):
    """The return being prepared, kept on the portal session until it is confirmed."""

    upload_token: str = ""
    lines: list[DraftLine] = Field(default_factory=list)
    photos: dict[str, list[int]] = Field(default_factory=dict)
    """Photo ids per order line id, stored as they were uploaded (even if the form had errors)."""
    resolution: str | None = None
    method: str | None = None
    pickup_date: date | None = None
    pickup_slot: str | None = None
    store_code: str | None = None

    def photo_ids(self, order_line_id: int) -> list[int]:
        return list(self.photos.get(str(order_line_id), []))


class OptionsIn(BaseModel):
    model_config = ConfigDict(str_strip_whitespace=True)

    resolution: str = ""
    method: str = ""
    exchange_variants: dict[int, int] = Field(default_factory=dict)
    pickup_date: str = ""
    pickup_slot: str = ""
    store_code: str = ""
