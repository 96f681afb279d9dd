"""What the API sends and reads about parcels: shipments with their scans, labels asked for,
scans sent by the shop, pickups moved, the shop's carrier account."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from retour.kit import clock
from retour.models import Shipment, ShipmentEvent

MAX_ID = 2**63 - 1
Method = Literal["prepaid_label", "drop_off", "in_store", "home_pickup", "customer_ships"]
Slot = Literal["09-12", "13-17"]
ScanStatus = Literal["pre_transit", "in_transit", "delivered", "exception", "unknown"]
Provider = Literal["builtin", "shippo", "easypost"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ShipmentIn(_In):
    method: Method
    pickup_date: date | None = Field(default=None, description="home pickup only: a working day among the next ten")
    pickup_slot: Slot | None = None
    store_code: str | None = Field(default=None, max_length=40, description="in-store return only")


class PickupIn(_In):
    pickup_date: date
    pickup_slot: Slot


class ScanIn(_In):
    status: ScanStatus
    at: datetime = Field(description="when the carrier scanned the parcel (with its offset)")
    description: str = Field(default="", max_length=500)
    location: str | None = Field(default=None, max_length=200)
    external_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="the carrier's id of the scan; sending the same one twice stores it once",
    )

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("give the time with its offset, e.g. 2026-11-20T14:05:00+01:00")
        return value


class ScansIn(_In):
    scans: list[ScanIn] = Field(min_length=1, max_length=200)


class ScanOutcomeOut(BaseModel):
    stored: int
    duplicates: int
    status_before: str
    status_after: str


class ShipmentEventOut(BaseModel):
    id: int
    source: str
    status: str
    carrier_status: str
    description: str
    location: str | None
    occurred_at: datetime


class ShipmentOut(BaseModel):
    id: int
    return_id: int
    method: str
    carrier: str
    tracking_number: str | None
    status: str
    pickup_date: date | None
    pickup_slot: str | None
    store_code: str | None
    label_expires_at: datetime | None
    failure_reason: str | None = None
    last_event_at: datetime | None
    created_at: datetime
    events: list[ShipmentEventOut]


class CarrierSettingsIn(_In):
    provider: Provider
    api_key: str | None = Field(
        default=None, max_length=200, description="required for shippo and easypost; omit to keep the current one"
    )
    webhook_secret: str | None = Field(default=None, max_length=200, description="omit to keep the current one")
    preferred_service: str = Field(default="", max_length=100)
    tracking_carrier: str = Field(default="", max_length=60)


class CarrierSettingsOut(BaseModel):
    provider: str
    api_key: str | None = Field(description="only its last characters")
    webhook_secret: str | None = Field(description="only its last characters")
    preferred_service: str
    tracking_carrier: str
    webhook_url_path: str | None = Field(description="where the carrier should send its tracking webhooks")


class WebhookAcceptedOut(BaseModel):
    id: int
    duplicate: bool


def event_out(event: ShipmentEvent) -> ShipmentEventOut:
    return ShipmentEventOut(
        id=event.id,
        source=event.source,
        status=event.status,
        carrier_status=event.carrier_status,
        description=event.description,
        location=event.location,
        occurred_at=clock.as_utc(event.occurred_at),
    )


def shipment_out(shipment: Shipment, events: list[ShipmentEvent]) -> ShipmentOut:
    return ShipmentOut(
        id=shipment.id,
        return_id=shipment.return_request_id,
        method=shipment.method,
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
        status=shipment.status,
        pickup_date=shipment.pickup_date,
        pickup_slot=shipment.pickup_slot,
        store_code=shipment.store_code,
        label_expires_at=clock.as_utc(shipment.label_expires_at) if shipment.label_expires_at else None,
        failure_reason=shipment.failure_reason,
        last_event_at=clock.as_utc(shipment.last_event_at) if shipment.last_event_at else None,
        created_at=clock.as_utc(shipment.created_at),
        events=[event_out(event) for event in events],
    )
