"""EasyPost (https://docs.easypost.com): rates, return labels and tracking over its REST API v2,
with plain httpx and HTTP Basic authentication (the API key as the user, no password).

Return labels. With ``is_return=True`` (the default) EasyPost makes a return label: it wants the
addresses the way the original parcel went (``from_address`` the shop, ``to_address`` the customer)
and swaps them itself. ``is_return=False`` buys an ordinary label from the customer to the shop.

Units. EasyPost measures in inches and ounces: the parcel's centimetres and grams are converted
and rounded *up* to the tenth (declaring a parcel lighter than it is gets it surcharged).

Labels are paid for once ``/buy`` answers: if the PDF then does not download (three attempts) or
EasyPost gave none, ``create_label`` raises ``LabelPurchased`` (never an error that would buy it
again) and ``download_label`` fetches it later from ``LabelResult.label_url``.

Never bought twice. The parcel's shipment carries its reference (the parcel's plus a digest of
the addresses and parcel), and ``create_label`` first asks for the shipment of that reference
(``GET /shipments/{reference}``: EasyPost takes a reference in place of an id): an earlier
attempt's shipment is bought (or, already bought, used) rather than a new one made, and EasyPost
sells a shipment once. A ``/buy`` without a clear answer (no reply, dropped connection, 5xx) reads
the shipment again: bought, it is used; not bought, the attempt may be retried (it buys the same
shipment); unreadable, ``LabelPurchaseUnknown`` stops the parcel for a person.

Tracking. ``track`` registers (or finds: EasyPost returns the existing tracker for a number it
already follows, and buying a label made one) a tracker with ``POST /trackers``; the carrier is
detected by EasyPost. A label's ``tracking_carrier`` (the carrier of the rate bought, ``USPS``) is
kept for people but not sent: the tracker of a bought label already knows its carrier, and a
carrier name EasyPost's tracker did not accept would turn tracking into an error.

Webhooks. EasyPost signs each event with the webhook's secret: header ``X-Hmac-Signature:
hmac-sha256-hex=<hex HMAC-SHA256 of the raw body>``, the secret NFKD-normalised and UTF-8 encoded
first, exactly as the official clients' ``validate_webhook``. ``webhook_id`` is the Event's id
(``evt_...``); ``tracker.created`` and ``tracker.updated`` events carry a Tracker."""

from __future__ import annotations

import hashlib
import hmac
import json
import unicodedata
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from retour.integrations.http import (
    DEFAULT_TIMEOUT_SECONDS,
    LABEL_DOWNLOAD_PAUSE_SECONDS,
    Parcel,
    amount_minor,
    as_dict,
    as_list,
    call_json,
    cheapest_first,
    choose_rate,
    download_bought_label,
    download_pdf,
    header,
    parse_instant,
    place,
    round_up,
    shared_client,
    stable_id,
)
from retour.shipment import rules
from retour.shipment.carriers import (
    CarrierError,
    CarrierFinalError,
    CarrierRetryableError,
    LabelPurchaseUnknown,
    LabelRequest,
    LabelResult,
    Rate,
    TrackingEvent,
    WebhookRejected,
)
from retour.shipment.rules import Address

SIGNATURE_HEADER = "X-Hmac-Signature"
SIGNATURE_PREFIX = "hmac-sha256-hex="
TRACKER_EVENTS = ("tracker.created", "tracker.updated")
GRAMS_PER_OUNCE = Decimal("28.349523125")
CENTIMETRES_PER_INCH = Decimal("2.54")
TENTH = Decimal("0.1")
REFERENCE_DIGEST = 12

STATUSES = {
    "pre_transit": "pre_transit",
    "in_transit": "in_transit",
    "out_for_delivery": "in_transit",
    "available_for_pickup": "in_transit",
    "delivered": "delivered",
    "return_to_sender": "exception",
    "failure": "exception",
    "cancelled": "exception",
    "error": "exception",
    "unknown": "unknown",
}


class EasyPostCarrier:
    """Buys return labels from EasyPost and reads their tracking. Needs the account's API key
    (``EZAK...`` live or ``EZTK...`` test)."""

    name = "easypost"

    def __init__(
        self,
        api_key: str,
        *,
        client: httpx.Client | None = None,
        base_url: str = "https://api.easypost.com/v2",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        parcel: Parcel = Parcel(),
        preferred_service: str | None = None,
        is_return: bool = True,
        download_pause: float = LABEL_DOWNLOAD_PAUSE_SECONDS,
    ) -> None:
        self._client = client or shared_client()
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._parcel = parcel
        self._preferred_service = preferred_service
        self._is_return = is_return
        self._download_pause = download_pause
        self._auth = httpx.BasicAuth(api_key, "")

    # Labels and rates

    def rates(self, request: LabelRequest) -> list[Rate]:
        """Prices for the parcel (a quote: its shipment carries no reference, so it is never taken
        for the parcel's own)."""
        return _rates(self._post_shipment(self._shipment(request)))

    def create_label(self, request: LabelRequest) -> LabelResult:
        """Buys the label of the preferred service (else the cheapest) and downloads its PDF. The
        parcel's shipment is found by its reference before one is created, so a retried attempt
        buys (or finds bought) the same shipment, which EasyPost sells once. Once bought, a PDF
        that cannot be had raises ``LabelPurchased``."""
        body = self._shipment(request)
        if request.reference:
            body["reference"] = shipment_reference(request.reference, body)
        shipment = (self._find_shipment(body["reference"]) if request.reference else None) or self._post_shipment(body)
        rate_carrier = None
        if not _is_bought(shipment):
            rate = choose_rate(_rates(shipment), self._preferred_service, carrier=self.name)
            shipment, rate_carrier = self._buy(str(shipment["id"]), rate), rate.carrier
        # Bought (and paid for) from here on.
        tracking = shipment.get("tracking_code")
        tracking_number = str(tracking) if tracking else None
        label_url = as_dict(shipment.get("postage_label")).get("label_pdf_url")
        url = label_url if isinstance(label_url, str) and label_url else None
        reference = str(shipment["id"])
        tracking_carrier = str(as_dict(shipment.get("selected_rate")).get("carrier") or rate_carrier or "") or None
        pdf = download_bought_label(
            self._client,
            url,
            carrier=self.name,
            timeout=self._timeout,
            pause=self._download_pause,
            tracking_number=tracking_number,
            carrier_reference=reference,
            tracking_carrier=tracking_carrier,
        )
        return LabelResult(
            tracking_number=tracking_number,
            qr_payload=rules.qr_payload(request.rma_number, tracking_number),
            pdf=pdf,
            expires_on=request.today + timedelta(days=rules.LABEL_VALIDITY_DAYS),
            carrier_reference=reference,
            label_url=url,
            tracking_carrier=tracking_carrier,
        )

    def _buy(self, shipment_id: str, rate: Rate) -> dict[str, Any]:
        """The shipment bought at ``rate``. Without a clear answer, or refused (an earlier
        attempt may have bought it), the shipment is read again: bought, it is used; not bought
        after an unclear answer, the attempt is retryable (the next one buys this same shipment,
        which EasyPost would not sell twice); unreadable, ``LabelPurchaseUnknown``."""
        path = f"/shipments/{quote(shipment_id, safe='')}"
        try:
            return as_dict(self._call("POST", f"{path}/buy", {"rate": {"id": rate.rate_id}}, purchase=True))
        except LabelPurchaseUnknown as unclear:
            try:
                current = as_dict(self._call("GET", path))
            except CarrierError as failure:
                raise LabelPurchaseUnknown(
                    f"easypost: purchase outcome unknown ({unclear}; reading the shipment failed: {failure}):"
                    f" check shipment {shipment_id} in the EasyPost account before buying again",
                    carrier_reference=shipment_id,
                ) from unclear
            if _is_bought(current):
                return current
            raise CarrierRetryableError(
                f"easypost: shipment {shipment_id} is not bought ({unclear}); the next attempt buys it"
            ) from unclear
        except CarrierFinalError as refused:
            try:
                current = as_dict(self._call("GET", path))
            except CarrierError:
                raise refused from None
            if _is_bought(current):
                return current
            raise

    def _find_shipment(self, reference: str) -> dict[str, Any] | None:
        """The shipment an earlier attempt made for the parcel (EasyPost takes a reference in
        place of an id), or None."""
        found = as_dict(self._call("GET", f"/shipments/{quote(reference, safe='')}", missing_ok=True))
        return found if found.get("id") else None

    def download_label(self, url: str) -> bytes:
        """The PDF behind a label's ``label_url`` (fetched without the API key)."""
        return download_pdf(self._client, url, carrier=self.name, timeout=self._timeout)

    def _shipment(self, request: LabelRequest) -> dict[str, Any]:
        customer, shop = _address(request.sender), _address(request.recipient)
        origin, destination = (shop, customer) if self._is_return else (customer, shop)
        grams = Decimal(request.weight_grams or self._parcel.weight_grams)
        return {
            "from_address": origin,
            "to_address": destination,
            "parcel": {
                # Decimal strings, not floats: 17.7 stays 17.7 on the wire.
                "length": str(_inches(self._parcel.length_cm)),
                "width": str(_inches(self._parcel.width_cm)),
                "height": str(_inches(self._parcel.height_cm)),
                "weight": str(round_up(grams / GRAMS_PER_OUNCE, TENTH)),
            },
            "is_return": self._is_return,
            "options": {"label_format": "PDF"},
        }

    def _post_shipment(self, shipment: dict[str, Any]) -> dict[str, Any]:
        created = as_dict(self._call("POST", "/shipments", {"shipment": shipment}))
        if not created.get("id"):
            raise CarrierFinalError("easypost: the shipment was created without an id")
        return created

    # Tracking

    def track(self, tracking_number: str, *, tracking_carrier: str | None = None) -> list[TrackingEvent]:
        """The parcel's events. ``tracking_carrier`` is not needed: EasyPost finds the tracker by
        its code (see the module's note)."""
        tracker = self._call("POST", "/trackers", {"tracker": {"tracking_code": tracking_number}})
        return _events(as_dict(tracker))

    # Webhooks

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        if not secret:
            raise WebhookRejected("easypost: no webhook secret is configured")
        given = header(headers, SIGNATURE_HEADER)
        if given is None:
            raise WebhookRejected(f"easypost: no {SIGNATURE_HEADER} header")
        key = unicodedata.normalize("NFKD", secret).encode("utf-8")
        expected = SIGNATURE_PREFIX + hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected.encode(), given.strip().encode()):
            raise WebhookRejected("easypost: the webhook signature does not match")

    def webhook_id(self, body: bytes) -> str:
        event_id = _event(body).get("id")
        if not isinstance(event_id, str) or not event_id:
            raise WebhookRejected("easypost: an event without an id")
        return event_id

    def parse_webhook(self, body: bytes) -> list[TrackingEvent]:
        event = _event(body)
        if event.get("description") not in TRACKER_EVENTS:
            return []
        tracker = event.get("result")
        if not isinstance(tracker, dict) or tracker.get("object") != "Tracker":
            raise WebhookRejected("easypost: a tracker event without its Tracker")
        return _events(tracker)

    def _call(
        self, method: str, path: str, body: Any = None, *, purchase: bool = False, missing_ok: bool = False
    ) -> Any:
        return call_json(
            self._client,
            method,
            self._base_url + path,
            carrier=self.name,
            read_error=error_text,
            timeout=self._timeout,
            auth=self._auth,
            body=body,
            purchase=purchase,
            missing_ok=missing_ok,
        )


def shipment_reference(parcel_reference: str, shipment: dict[str, Any]) -> str:
    """The parcel's reference and a digest of what its shipment says (addresses, parcel): a
    retried attempt finds the same shipment, while an order whose address was corrected since gets
    a new one (buying the old shipment would send the label to the old address)."""
    digest = hashlib.sha256(json.dumps(shipment, sort_keys=True).encode()).hexdigest()[:REFERENCE_DIGEST]
    return f"{parcel_reference}:{digest}"


def _is_bought(shipment: dict[str, Any]) -> bool:
    return bool(as_dict(shipment.get("postage_label")) or shipment.get("tracking_code"))


def _inches(centimetres: int) -> Decimal:
    return round_up(Decimal(centimetres) / CENTIMETRES_PER_INCH, TENTH)


def _address(address: Address) -> dict[str, str]:
    lines = list(address.lines)
    return {
        "name": address.name,
        "street1": lines[0] if lines else "",
        "street2": " ".join(lines[1:]),
        "city": address.city,
        "zip": address.postal_code,
        "country": address.country,
    }


def _rates(shipment: dict[str, Any]) -> list[Rate]:
    rates = []
    for raw in as_list(shipment.get("rates")):
        data = as_dict(raw)
        currency = str(data.get("currency") or "").upper()
        minor = amount_minor(data.get("rate"), currency) if currency else None
        if not data.get("id") or minor is None:
            continue
        days = data.get("delivery_days")
        if days is None:
            days = data.get("est_delivery_days")
        rates.append(
            Rate(
                rate_id=str(data["id"]),
                carrier=str(data.get("carrier") or ""),
                service=str(data.get("service") or ""),
                amount_minor=minor,
                currency=currency,
                estimated_days=days if isinstance(days, int) else None,
            )
        )
    if not rates:
        raise CarrierFinalError(f"easypost: no rate for this parcel: {_messages(shipment) or 'no reason given'}")
    return cheapest_first(rates)


def _events(tracker: dict[str, Any]) -> list[TrackingEvent]:
    """The tracker's scans, oldest first, each once."""
    tracking_number = str(tracker.get("tracking_code") or "")
    events: dict[str, TrackingEvent] = {}
    for detail in (as_dict(raw) for raw in as_list(tracker.get("tracking_details"))):
        at = parse_instant(detail.get("datetime"))
        if at is None:
            continue
        raw_status = str(detail.get("status") or "unknown")
        # A TrackingDetail has no id of its own.
        external_id = stable_id("easypost", tracking_number, raw_status, detail["datetime"])
        location = as_dict(detail.get("tracking_location"))
        events.setdefault(
            external_id,
            TrackingEvent(
                at=at,
                status=STATUSES.get(raw_status, "unknown"),
                description=str(detail.get("message") or detail.get("status_detail") or raw_status),
                external_id=external_id,
                location=place(
                    location.get("city"), location.get("state"), location.get("zip"), location.get("country")
                ),
                tracking_number=tracking_number,
                carrier_status=raw_status,
            ),
        )
    return sorted(events.values(), key=lambda event: event.at)


def _event(body: bytes) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except ValueError:
        raise WebhookRejected("easypost: the webhook body is not JSON") from None
    if not isinstance(event, dict) or event.get("object") != "Event":
        raise WebhookRejected("easypost: not an EasyPost Event")
    return event


def _messages(shipment: dict[str, Any]) -> str:
    """The shipment's ``messages`` (why carriers gave no rate) as one line."""
    texts = []
    for raw in as_list(shipment.get("messages")):
        message = as_dict(raw)
        if message.get("message"):
            carrier = message.get("carrier")
            texts.append(f"{carrier}: {message['message']}" if carrier else str(message["message"]))
    return "; ".join(texts)


def error_text(payload: Any) -> str:
    """An EasyPost error body (``{"error": {"code", "message", "errors": [...]}}``) as one line:
    ``CODE: message (field: why; ...)``."""
    error = as_dict(as_dict(payload).get("error"))
    if not error:
        return ""
    details = []
    for raw in as_list(error.get("errors")):
        if isinstance(raw, dict):
            field, why = raw.get("field"), raw.get("message")
            details.append(f"{field}: {why}" if field else str(why))
        else:
            details.append(str(raw))
    text = ": ".join(str(part) for part in (error.get("code"), error.get("message")) if part)
    return f"{text} ({'; '.join(details)})" if details else text
