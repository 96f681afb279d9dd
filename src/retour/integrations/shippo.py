"""Shippo (https://docs.goshippo.com): rates, return labels and tracking over its REST API, with
plain httpx (no SDK: one dependency less, and the calls stay visible and testable).

Return labels. With ``is_return=True`` (the default) the label is Shippo's scan-based return label
(``extra.is_return``: USPS, FedEx and UPS; charged only when used): Shippo wants the addresses the
way the original parcel went, shop to customer, and swaps them itself, so ``address_from`` is the
shop and ``address_to`` the customer. For every other carrier Shippo's advice is an ordinary label
with the addresses the way the parcel goes back: ``is_return=False`` sends customer to shop.

Labels are paid for once Shippo's transaction is ``SUCCESS``: if its PDF then does not download
(three attempts), ``create_label`` raises ``LabelPurchased`` (never an error that would buy it
again) and ``download_label`` fetches it later from ``LabelResult.label_url``.

Never bought twice. Each transaction carries the parcel's reference as its ``metadata``, and
before buying, ``create_label`` looks among the account's latest transactions for one of this
parcel that is sold or queued (an earlier attempt whose answer was lost): that one is used. A
purchase without a clear answer (no reply, dropped connection, 5xx) is looked up by its rate
(``GET /transactions/?rate=``), a ``QUEUED``/``WAITING`` one polled (``GET /transactions/{id}``);
when that does not settle it, ``LabelPurchaseUnknown`` stops the parcel for a person.

Tracking. Shippo tracks by carrier token and number (``GET /tracks/{carrier}/{number}``). A label's
``LabelResult.tracking_carrier`` is the token of the carrier of the rate bought (``colissimo``,
``ups``, ``dhl_express``: Shippo names a rate's carrier only by its display name, ``provider``,
so the token is derived from it), and ``track(number, tracking_carrier=...)`` uses it. Without
it, ``track`` accepts ``"carrier:number"`` (``"colissimo:8R41000000000"``), and a bare number is
tracked with the adapter's ``tracking_carrier`` (Colissimo when none is configured).

Webhooks (``track_updated``). Shippo offers two proofs of origin, and ``verify_webhook`` accepts
either, always with the merchant's one ``secret``:
- the HMAC Shippo sets up on request: header ``Shippo-Auth-Signature: t=<unix time>,v1=<hex
  HMAC-SHA256 of "<t>.<raw body>">``; a signature older than five minutes is refused (a replay);
- otherwise the self-generated token Shippo's dashboard lets you put in the webhook URL
  (``...?token=<secret>``): the inbound endpoint copies the ``token`` query parameter into the
  header ``X-Retour-Token`` before calling ``verify_webhook``.
Shippo gives a delivery no id, so ``webhook_id`` is the SHA-256 of the body."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
import unicodedata
from collections.abc import Mapping
from datetime import timedelta
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
    shared_client,
    stable_id,
)
from retour.kit import clock
from retour.shipment import rules
from retour.shipment.carriers import (
    CarrierError,
    CarrierFinalError,
    LabelPurchaseUnknown,
    LabelRequest,
    LabelResult,
    Rate,
    TrackingEvent,
    WebhookRejected,
)
from retour.shipment.rules import Address

API_VERSION = "2018-02-08"
SIGNATURE_HEADER = "Shippo-Auth-Signature"
TOKEN_HEADER = "X-Retour-Token"  # noqa: S105 (a header name, not a secret)
SIGNATURE_TOLERANCE = timedelta(minutes=5)
METADATA_LIMIT = 100  # Shippo refuses longer metadata
DEFAULT_TRACKING_CARRIER = "colissimo"
SOLD = "SUCCESS"
# A transaction Shippo has taken but not yet settled: polled, never bought again.
PENDING = ("QUEUED", "WAITING")
# How often a purchase without a clear answer, or a queued one, is asked after (pausing 1x, 2x...
# the download pause in between), and how many of the account's latest labels are searched for an
# earlier purchase of the parcel.
LOOKUP_ATTEMPTS = 3
LOOKUP_RESULTS = 100
# Carriers whose Shippo token is not their display name in lower case with underscores (``"DHL
# Express"`` -> ``dhl_express``), from Shippo's list of tracking carriers.
CARRIER_TOKENS = {
    "asendia": "asendia_us",
    "correos br": "correios_br",
    "correos spain": "correos_espana",
    "epostglobal": "rr_donnelley",
    "evri uk": "hermes_uk",
    "jitsu": "axlehire",
    "nz post": "new_zealand_post",
    "royal mail intersoft": "royal_mail",
}

STATUSES = {
    "PRE_TRANSIT": "pre_transit",
    "TRANSIT": "in_transit",
    "DELIVERED": "delivered",
    "RETURNED": "exception",
    "FAILURE": "exception",
    "UNKNOWN": "unknown",
}


class ShippoCarrier:
    """Buys return labels from Shippo and reads their tracking. Needs the account's API token
    (``shippo_live_...`` or ``shippo_test_...``)."""

    name = "shippo"

    def __init__(
        self,
        api_key: str,
        *,
        client: httpx.Client | None = None,
        base_url: str = "https://api.goshippo.com",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        parcel: Parcel = Parcel(),
        preferred_service: str | None = None,
        tracking_carrier: str | None = None,
        is_return: bool = True,
        download_pause: float = LABEL_DOWNLOAD_PAUSE_SECONDS,
    ) -> None:
        self._client = client or shared_client()
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._parcel = parcel
        self._preferred_service = preferred_service
        self._tracking_carrier = tracking_carrier or DEFAULT_TRACKING_CARRIER
        self._is_return = is_return
        self._download_pause = download_pause
        self._headers = {"Authorization": f"ShippoToken {api_key}", "Shippo-API-Version": API_VERSION}

    # Labels and rates

    def rates(self, request: LabelRequest) -> list[Rate]:
        shipment = self._create_shipment(request)
        rates = [rate for raw in as_list(shipment.get("rates")) if (rate := _rate(raw)) is not None]
        if not rates:
            raise CarrierFinalError(f"shippo: no rate for this parcel: {_messages(shipment) or 'no reason given'}")
        return cheapest_first(rates)

    def create_label(self, request: LabelRequest) -> LabelResult:
        """Buys the label of the preferred service (else the cheapest) and downloads its PDF,
        unless this parcel's label was bought already (see ``_earlier_purchase``): then that one
        is used. A purchase without a clear answer is looked up, a queued one polled; one that
        stays unclear raises ``LabelPurchaseUnknown``. Once bought, a PDF that cannot be had
        raises ``LabelPurchased``."""
        transaction = self._earlier_purchase(request.reference)
        if transaction is not None:
            provider = _provider(transaction)
        else:
            rate = choose_rate(self.rates(request), self._preferred_service, carrier=self.name)
            transaction, provider = self._buy(rate, request.reference), rate.carrier
        transaction = self._settled(transaction)
        # Bought (and paid for) from here on.
        tracking, label_url = transaction.get("tracking_number"), transaction.get("label_url")
        tracking_number = str(tracking) if tracking else None
        url = label_url if isinstance(label_url, str) and label_url else None
        reference = str(transaction.get("object_id") or "") or None
        tracking_carrier = carrier_token(provider) if provider else None
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

    def _earlier_purchase(self, reference: str) -> dict[str, Any] | None:
        """A transaction of this parcel (its ``metadata`` is the parcel's reference) that is sold
        or on its way to be, among the account's ``LOOKUP_RESULTS`` latest: an earlier attempt
        whose answer was lost. Shippo cannot filter by metadata, so older ones are not seen (an
        attempt is retried within minutes; the parcel itself says when a person must look)."""
        if not reference:
            return None
        page = as_dict(self._call("GET", f"/transactions/?results={LOOKUP_RESULTS}"))
        metadata = reference[:METADATA_LIMIT]
        for raw in as_list(page.get("results")):
            transaction = as_dict(raw)
            if transaction.get("metadata") == metadata and transaction.get("status") in (SOLD, *PENDING):
                return transaction
        return None

    def _buy(self, rate: Rate, reference: str) -> dict[str, Any]:
        """The transaction that buys ``rate``. Without a clear answer, the transaction of that rate
        is looked up (``LOOKUP_ATTEMPTS`` times) rather than bought again."""
        body = {"rate": rate.rate_id, "label_file_type": "PDF", "async": False, "metadata": reference[:METADATA_LIMIT]}
        try:
            return as_dict(self._call("POST", "/transactions/", body, purchase=True))
        except LabelPurchaseUnknown as unclear:
            check = ""
            for attempt in range(LOOKUP_ATTEMPTS):
                self._pause_before(attempt)
                try:
                    found = self._transaction_of_rate(rate.rate_id)
                except CarrierError as failure:
                    check = f"; looking it up failed: {failure}"
                    continue
                if found is not None:
                    return found
                check = "; no transaction of that rate is found"
            raise LabelPurchaseUnknown(
                f"shippo: purchase outcome unknown ({unclear}{check}): check the Shippo account for a label with"
                f" metadata {reference[:METADATA_LIMIT]!r} (rate {rate.rate_id}) before buying again",
                carrier_reference=rate.rate_id,
            ) from unclear

    def _transaction_of_rate(self, rate_id: str) -> dict[str, Any] | None:
        page = as_dict(self._call("GET", f"/transactions/?rate={quote(rate_id, safe='')}"))
        for raw in as_list(page.get("results")):
            transaction = as_dict(raw)
            bought = transaction.get("rate")
            if (as_dict(bought).get("object_id") if isinstance(bought, dict) else bought) == rate_id:
                return transaction
        return None

    def _settled(self, transaction: dict[str, Any]) -> dict[str, Any]:
        """``transaction`` once sold: a queued (or waiting) one is polled ``LOOKUP_ATTEMPTS``
        times; one refused is final; one still pending, or in a state Shippo does not document
        for a purchase, raises ``LabelPurchaseUnknown`` (it may yet be sold)."""
        transaction_id = str(transaction.get("object_id") or "")
        for attempt in range(LOOKUP_ATTEMPTS + 1):
            status = transaction.get("status")
            if status == SOLD:
                return transaction
            if status == "ERROR":
                raise CarrierFinalError(f"shippo: the label was refused: {_messages(transaction) or 'no reason given'}")
            if status not in PENDING or not transaction_id or attempt == LOOKUP_ATTEMPTS:
                break
            self._pause_before(attempt + 1)
            try:
                transaction = as_dict(self._call("GET", f"/transactions/{quote(transaction_id, safe='')}"))
            except CarrierError:
                continue
        raise LabelPurchaseUnknown(
            f"shippo: purchase outcome unknown: transaction {transaction_id or '(no id)'} is"
            f" {transaction.get('status')!r}, it may yet be bought: check it in the Shippo account before buying again",
            carrier_reference=transaction_id or None,
        )

    def _pause_before(self, attempt: int) -> None:
        if attempt and self._download_pause > 0:
            time.sleep(self._download_pause * attempt)

    def download_label(self, url: str) -> bytes:
        """The PDF behind a label's ``label_url`` (fetched without the API token)."""
        return download_pdf(self._client, url, carrier=self.name, timeout=self._timeout)

    def _create_shipment(self, request: LabelRequest) -> dict[str, Any]:
        customer, shop = _address(request.sender), _address(request.recipient)
        origin, destination = (shop, customer) if self._is_return else (customer, shop)
        weight = request.weight_grams or self._parcel.weight_grams
        body: dict[str, Any] = {
            "address_from": origin,
            "address_to": destination,
            "parcels": [
                {
                    # Shippo wants every dimension as a string.
                    "length": str(self._parcel.length_cm),
                    "width": str(self._parcel.width_cm),
                    "height": str(self._parcel.height_cm),
                    "distance_unit": "cm",
                    "weight": str(weight),
                    "mass_unit": "g",
                }
            ],
            "async": False,
            "metadata": request.reference[:METADATA_LIMIT],
        }
        if self._is_return:
            body["extra"] = {"is_return": True}
        return as_dict(self._call("POST", "/shipments/", body))

    # Tracking

    def track(self, tracking_number: str, *, tracking_carrier: str | None = None) -> list[TrackingEvent]:
        """The parcel's events, tracked with ``tracking_carrier`` (the label's), else the carrier
        of a ``"carrier:number"``, else the adapter's default carrier."""
        named, _, number = tracking_number.rpartition(":")
        carrier = tracking_carrier or named or self._tracking_carrier
        path = f"/tracks/{quote(carrier, safe='')}/{quote(number, safe='')}"
        return _events(as_dict(self._call("GET", path)), number)

    # Webhooks

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        if not secret:
            raise WebhookRejected("shippo: no webhook secret is configured")
        signature = header(headers, SIGNATURE_HEADER)
        if signature is not None:
            _check_signature(signature, body, secret)
            return
        token = header(headers, TOKEN_HEADER)
        if token is None:
            raise WebhookRejected(f"shippo: neither {SIGNATURE_HEADER} nor a token")
        if not hmac.compare_digest(token.encode(), secret.encode()):
            raise WebhookRejected("shippo: wrong webhook token")

    def webhook_id(self, body: bytes) -> str:
        _webhook(body)
        return hashlib.sha256(body).hexdigest()

    def parse_webhook(self, body: bytes) -> list[TrackingEvent]:
        payload = _webhook(body)
        if payload["event"] != "track_updated":
            return []
        data = payload.get("data")
        if not isinstance(data, dict):
            raise WebhookRejected("shippo: a track_updated webhook without its track")
        return _events(data, "")

    def _call(self, method: str, path: str, body: Any = None, *, purchase: bool = False) -> Any:
        return call_json(
            self._client,
            method,
            self._base_url + path,
            carrier=self.name,
            read_error=error_text,
            timeout=self._timeout,
            headers=self._headers,
            body=body,
            purchase=purchase,
        )


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


def carrier_token(provider: str) -> str | None:
    """Shippo's token of a carrier (what ``/tracks/{carrier}/...`` wants) from its display name, a
    rate's ``provider``: ``"USPS"`` -> ``usps``, ``"DHL Express"`` -> ``dhl_express``,
    ``"Colissimo"`` -> ``colissimo``. None for a rate that names no carrier."""
    # Accents go (``"Correos España"`` -> ``correos_espana``), as Shippo's tokens have none.
    plain = unicodedata.normalize("NFKD", provider).encode("ascii", "ignore").decode()
    name = " ".join(plain.split()).casefold()
    return CARRIER_TOKENS.get(name) or re.sub(r"[^a-z0-9]+", "_", name).strip("_") or None


def _provider(transaction: dict[str, Any]) -> str | None:
    """The carrier of a transaction's rate, when Shippo gave the rate in full (list answers do)."""
    provider = as_dict(transaction.get("rate")).get("provider")
    return str(provider) if provider else None


def _rate(raw: object) -> Rate | None:
    """A rate Retour can show and buy, or None for one without an id, a currency or a readable price."""
    data = as_dict(raw)
    currency = str(data.get("currency") or "").upper()
    minor = amount_minor(data.get("amount"), currency) if currency else None
    if not data.get("object_id") or minor is None:
        return None
    level = as_dict(data.get("servicelevel"))
    days = data.get("estimated_days")
    return Rate(
        rate_id=str(data["object_id"]),
        carrier=str(data.get("provider") or ""),
        # The token (``colissimo_home``) is what ``preferred_service`` names.
        service=str(level.get("token") or level.get("name") or ""),
        amount_minor=minor,
        currency=currency,
        estimated_days=days if isinstance(days, int) else None,
    )


def _events(track: dict[str, Any], number: str) -> list[TrackingEvent]:
    """The track's history plus its current status, oldest first, each scan once."""
    tracking_number = str(track.get("tracking_number") or number)
    scans = [*as_list(track.get("tracking_history")), track.get("tracking_status")]
    events: dict[str, TrackingEvent] = {}
    for scan in (as_dict(raw) for raw in scans):
        at = parse_instant(scan.get("status_date"))
        if at is None:  # Shippo's placeholder status before the first scan has no date
            continue
        raw_status = str(scan.get("status") or "UNKNOWN").upper()
        external_id = str(
            scan.get("object_id") or stable_id("shippo", tracking_number, raw_status, scan["status_date"])
        )
        location = as_dict(scan.get("location"))
        events.setdefault(
            external_id,
            TrackingEvent(
                at=at,
                status=STATUSES.get(raw_status, "unknown"),
                description=str(scan.get("status_details") or raw_status),
                external_id=external_id,
                location=place(
                    location.get("city"), location.get("state"), location.get("zip"), location.get("country")
                ),
                tracking_number=tracking_number,
                carrier_status=raw_status,
            ),
        )
    return sorted(events.values(), key=lambda event: event.at)


def _webhook(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        raise WebhookRejected("shippo: the webhook body is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("event"), str):
        raise WebhookRejected("shippo: not a Shippo webhook (no event)")
    return payload


def _check_signature(signature: str, body: bytes, secret: str) -> None:
    fields = dict(part.strip().partition("=")[::2] for part in signature.split(","))
    timestamp, given = fields.get("t", ""), fields.get("v1", "")
    if not timestamp.isdigit() or not given:
        raise WebhookRejected(f"shippo: malformed {SIGNATURE_HEADER}")
    if abs(clock.now().timestamp() - int(timestamp)) > SIGNATURE_TOLERANCE.total_seconds():
        raise WebhookRejected("shippo: the webhook signature is too old (or from the future)")
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), given.lower().encode()):
        raise WebhookRejected("shippo: the webhook signature does not match")


def _messages(payload: dict[str, Any]) -> str:
    """Shippo's ``messages`` (``[{"source", "code", "text"}]``) as one line."""
    texts = []
    for raw in as_list(payload.get("messages")):
        message = as_dict(raw)
        text = str(message.get("text") or "")
        source = str(message.get("source") or "")
        if text:
            texts.append(f"{source}: {text}" if source else text)
    return "; ".join(texts)


def error_text(payload: Any) -> str:
    """A Shippo error body as one readable line: ``{"detail": "..."}``, ``{"messages": [...]}``, or a
    field -> messages mapping (``{"address_to": {"zip": ["This field is required."]}}``)."""
    if isinstance(payload, dict):
        if isinstance(payload.get("detail"), str):
            return str(payload["detail"])
        if payload.get("messages"):
            return _messages(payload)
        return "; ".join(_field_errors(payload, ""))
    if isinstance(payload, list):
        return "; ".join(error_text(item) for item in payload if error_text(item))
    return "" if payload is None else str(payload)


def _field_errors(errors: dict[str, Any], prefix: str) -> list[str]:
    lines: list[str] = []
    for field, value in errors.items():
        name = f"{prefix}.{field}" if prefix else str(field)
        if isinstance(value, dict):
            lines.extend(_field_errors(value, name))
        else:
            texts = [str(item) for item in value] if isinstance(value, list) else [str(value)]
            lines.append(f"{name}: {' '.join(texts)}" if name != "__all__" else " ".join(texts))
    return lines
