"""Second-hand listings as the API and the feed show them."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel


class ListingOut(BaseModel):
    id: int
    inspection_unit_id: int
    sku: str
    title: str
    grade: str
    original_price_amount: int
    price_amount: int
    currency: str
    discount_percent: str
    description_en: str
    description_fr: str
    photos: list[str]
    status: str
    created_at: datetime
    sold_at: datetime | None
    withdrawn_at: datetime | None


class ListingPage(BaseModel):
    items: list[ListingOut]
    next_cursor: str | None
