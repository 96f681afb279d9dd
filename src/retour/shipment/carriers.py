"""Carrier adapters: who makes the label and tells where the parcel is.

The built-in, offline carrier issues its own tracking numbers (deterministic per shop and return,
with a Luhn check digit) and draws the label locally. Real carriers (``retour.integrations.shippo``,
``retour.integrations.easypost``: HTTP APIs) implement the same ``CarrierAdapter`` protocol and raise
``CarrierRetryableError`` for what may work on a later attempt (timeouts, 5xx, rate limits) and
``CarrierFinalError`` for what never will (refused address, unknown service, bad credentials).

Tracking statuses (``TrackingEvent.status``) are carrier-neutral: ``pre_transit`` (label made, not
scanned yet), ``in_transit`` (scanned, moving, out for delivery, waiting at a pickup point),
``delivered``, ``exception`` (failed attempt, returned to sender, damaged: a person should look)
and ``unknown``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Protocol

from retour.shipment import documents, rules
from retour.shipment.rules import Address


class CarrierError(Exception):
    """A carrier could not do what was asked."""


class CarrierRetryableError(CarrierError):
    """Temporary: the same call may succeed later (the outbox retries it)."""


class CarrierFinalError(CarrierError):
    """Permanent: retrying the same call cannot succeed."""


class LabelPurchased(CarrierError):
    """The carrier sold the label (it is paid for) but its file could not be fetched. Never buy it
    again: record the parcel with what the carrier gave and fetch the file later
    (``CarrierAdapter.download_label``)."""

    def __init__(
        self,
        message: str,
        *,
        tracking_number: str | None,
        carrier_reference: str | None,
        label_url: str | None,
        tracking_carrier: str | None = None,
    ) -> None:
        super().__init__(message)
        self.tracking_number = tracking_number
        self.carrier_reference = carrier_reference
        self.label_url = label_url
        self.tracking_carrier = tracking_carrier


class LabelPurchaseUnknown(CarrierFinalError):
    """A purchase got no clear answer (no reply once sent, a dropped connection, a 5xx, a sale
    still queued at the carrier) and asking the carrier what became of it did not settle it: the
    label may be bought and paid for. Final on purpose: buying again could pay twice, so the
    parcel stops for a person (the message says what to look for in the carrier's account), and
    the adapter looks for that purchase again before any later attempt buys."""

    def __init__(self, message: str, *, carrier_reference: str | None = None) -> None:
        super().__init__(message)
        self.carrier_reference = carrier_reference


class WebhookRejected(CarrierError):
    """An inbound webhook whose signature does not match (or that is not the carrier's format)."""


TRACKING_STATUSES = ("pre_transit", "in_transit", "delivered", "exception", "unknown")


@dataclass(frozen=True)
class LabelRequest:
    """Everything a carrier needs to make the label of one parcel."""

    merchant_id: int
    rma_number: str
    parcel: int
    method: str
    shop_name: str
    sender: Address
    recipient: Address
    today: date
    language: str = "fr"
    currency: str = "EUR"
    # What is in the box (0 when unknown: adapters then use the shop's default parcel).
    weight_grams: int = 0
    # The parcel's own, repeatable reference (``retour:<shop>:<RMA>:<parcel>``): adapters put it on
    # what they buy and look for it before buying, so that a retried purchase finds the first one.
    reference: str = ""


@dataclass(frozen=True)
class LabelResult:
    tracking_number: str | None
    qr_payload: str
    pdf: bytes
    expires_on: date | None
    # The carrier's id of the purchased label or shipment (to void or reconcile it).
    carrier_reference: str | None = None
    # Where the carrier keeps the label's file (to fetch it again if the stored copy is lost).
    label_url: str | None = None
    # The carrier that actually moves the parcel (``ups``, ``colissimo``...), when the account
    # sells several: tracking needs it.
    tracking_carrier: str | None = None


@dataclass(frozen=True)
class TrackingEvent:
    """One scan of the parcel as the carrier reports it. ``status`` is the shipment status it
    implies (``in_transit``, ``delivered``, ``lost``...); ``external_id`` de-duplicates events that
    arrive twice (webhook and polling)."""

    at: datetime
    status: str
    description: str
    external_id: str
    location: str | None = None
    tracking_number: str = ""
    carrier_status: str = ""


@dataclass(frozen=True)
class Rate:
    """One price quoted for the parcel. ``amount_minor`` in the currency's minor units."""

    rate_id: str
    carrier: str
    service: str
    amount_minor: int
    currency: str
    estimated_days: int | None = None


class CarrierAdapter(Protocol):
    name: str

    def create_label(self, request: LabelRequest) -> LabelResult:
        """Make (or buy) the label of one parcel. Raises ``CarrierError``."""
        ...

    def rates(self, request: LabelRequest) -> list[Rate]:
        """Prices for the parcel, cheapest first. Raises ``CarrierError``."""
        ...

    def track(self, tracking_number: str, *, tracking_carrier: str | None = None) -> list[TrackingEvent]:
        """Every event the carrier knows for the parcel, oldest first (``tracking_carrier`` from
        the ``LabelResult`` when the account sells several carriers). Raises ``CarrierError``."""
        ...

    def download_label(self, url: str) -> bytes:
        """The label's PDF again, from ``LabelResult.label_url``. Raises ``CarrierError``."""
        ...

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        """Raise ``WebhookRejected`` unless ``body`` was signed by the carrier with ``secret``."""
        ...

    def webhook_id(self, body: bytes) -> str:
        """The carrier's own id of a webhook delivery (de-duplicates retries). Raises
        ``WebhookRejected`` if the body is not one of the carrier's webhooks."""
        ...

    def parse_webhook(self, body: bytes) -> list[TrackingEvent]:
        """The tracking events a (verified) webhook carries, each with its ``tracking_number``;
        an empty list for a webhook about something else. Raises ``WebhookRejected``."""
        ...


class BuiltinCarrier:
    """The offline carrier: a tracking number from ``rules.tracking_number`` for the methods that
    travel with a carrier (none for a return in store or shipped by the customer), and a label
    drawn by ``documents.render_label_pdf``. It has no network, so it never tracks anything."""

    name = "builtin"

    def create_label(self, request: LabelRequest) -> LabelResult:
        tracking = (
            rules.tracking_number(request.merchant_id, request.rma_number, request.parcel)
            if request.method in rules.CARRIER_METHODS
            else None
        )
        expires_on = (
            request.today + timedelta(days=rules.LABEL_VALIDITY_DAYS)
            if request.method in rules.CARRIER_METHODS
            else None
        )
        payload = rules.qr_payload(request.rma_number, tracking)
        pdf = documents.render_label_pdf(label_data(request, tracking, payload, expires_on, carrier=self.name))
        return LabelResult(tracking_number=tracking, qr_payload=payload, pdf=pdf, expires_on=expires_on)

    def rates(self, request: LabelRequest) -> list[Rate]:
        """One free rate: the shop's own label (postage is the shop's business with its carrier)."""
        return [Rate(rate_id="builtin", carrier="Retour", service="label", amount_minor=0, currency=request.currency)]

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        raise WebhookRejected("the built-in carrier sends no webhooks")

    def webhook_id(self, body: bytes) -> str:
        raise WebhookRejected("the built-in carrier sends no webhooks")

    def parse_webhook(self, body: bytes) -> list[TrackingEvent]:
        raise WebhookRejected("the built-in carrier sends no webhooks")

    def download_label(self, url: str) -> bytes:
        raise CarrierFinalError("the built-in carrier draws its labels again; it keeps no files")

    def track(self, tracking_number: str, *, tracking_carrier: str | None = None) -> list[TrackingEvent]:
        """Nothing to report (no network: its parcels move through receiving scans); a number it
        never issued is a ``CarrierFinalError``."""
        if not rules.is_valid_tracking_number(tracking_number):
            raise CarrierFinalError(f"{tracking_number!r} is not a built-in tracking number")
        return []


def label_data(
    request: LabelRequest, tracking: str | None, payload: str, expires_on: date | None, *, carrier: str
) -> documents.LabelData:
    """What the label prints for ``request``: also used to draw a lost label file again."""
    return documents.LabelData(
        shop_name=request.shop_name,
        rma_number=request.rma_number,
        sender=request.sender,
        recipient=request.recipient,
        qr_payload=payload,
        tracking_number=tracking,
        carrier=carrier,
        method=request.method,
        expires_on=expires_on,
        language=request.language,
    )


CARRIERS: dict[str, CarrierAdapter] = {"builtin": BuiltinCarrier()}


def carrier_for(name: str) -> CarrierAdapter:
    try:
        return CARRIERS[name]
    except KeyError:
        raise CarrierFinalError(f"unknown carrier {name!r}") from None
