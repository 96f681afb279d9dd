"""What every HTTP carrier adapter shares: one call has one explicit timeout, and every way it can
fail lands in the carrier exception tree with the carrier's own words (nothing from httpx escapes).
``CarrierRetryableError`` for what a later attempt may fix (no answer, connection refused, a body
that did not decode, too many redirects, 408/425/429, 5xx, a 2xx that is not JSON),
``CarrierFinalError`` for what it cannot (any other 4xx: bad key, refused address, unknown rate; a
URL httpx cannot request; a label file that is not a PDF). The outbox retries the first and parks
the second for a person.

A purchase call (``purchase=True``) is stricter: an answer that may have come after the carrier
sold the label (no reply once the request was sent, a dropped connection, a 5xx, a 2xx that is not
JSON) raises ``LabelPurchaseUnknown``, never a retryable error, so that nobody buys it blindly
again; the adapter then asks the carrier what became of it. Only a request that never left (no
connection) or a 408/425/429 (not processed) stays retryable.

A label is paid for as soon as the carrier sold it: ``download_bought_label`` fetches its file
(three attempts) and, whatever goes wrong then, raises ``LabelPurchased`` so that nobody buys it
again."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from retour.kit.money import Money
from retour.shipment.carriers import (
    CarrierError,
    CarrierFinalError,
    CarrierRetryableError,
    LabelPurchased,
    LabelPurchaseUnknown,
    Rate,
)

DEFAULT_TIMEOUT_SECONDS = 10.0
# 4xx answers that mean "not now" rather than "never".
RETRYABLE_STATUSES = frozenset({408, 425, 429})
ERROR_TEXT_LIMIT = 300
# A bought label's file: the first try and two more, pausing 1x then 2x this long in between.
LABEL_DOWNLOAD_ATTEMPTS = 3
LABEL_DOWNLOAD_PAUSE_SECONDS = 0.25

ErrorReader = Callable[[Any], str]


@dataclass(frozen=True)
class Parcel:
    """The shop's usual box, used when a return does not say what it weighs (``weight_grams`` 0)."""

    length_cm: int = 30
    width_cm: int = 20
    height_cm: int = 10
    weight_grams: int = 1000


_SHARED: httpx.Client | None = None
_SHARED_LOCK = threading.Lock()


def shared_client() -> httpx.Client:
    """One connection pool per process for every carrier call (thread-safe): adapters are built per
    call with a shop's credentials, and a client each would leave sockets open until collected."""
    global _SHARED
    with _SHARED_LOCK:
        if _SHARED is None:
            _SHARED = httpx.Client(limits=httpx.Limits(max_connections=20, max_keepalive_connections=10))
        return _SHARED


class _NotJson:
    """Marks a body that is not JSON (``None`` is valid JSON)."""


NOT_JSON = _NotJson()

# What httpx raises for a URL it cannot request at all: asking again cannot help. (``InvalidURL`` is
# not an ``httpx.HTTPError``; ``UnsupportedProtocol`` is, as a transport error.)
UNREQUESTABLE = (httpx.InvalidURL, httpx.UnsupportedProtocol)
# Failures after which the request certainly never reached the carrier: a purchase may be retried.
NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def call_json(
    client: httpx.Client,
    method: str,
    url: str,
    *,
    carrier: str,
    read_error: ErrorReader,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    auth: httpx.Auth | None = None,
    body: Any = None,
    purchase: bool = False,
    missing_ok: bool = False,
) -> Any:
    """The decoded JSON answer of one API call. Raises ``CarrierRetryableError`` or
    ``CarrierFinalError`` (message: carrier, status, the carrier's explanation) otherwise; with
    ``purchase``, ``LabelPurchaseUnknown`` for an outcome that may be a sale (see the module's
    note); with ``missing_ok``, a 404 is None (a lookup that found nothing)."""
    where = f"{method} {urlsplit(url).path}"
    # What a purchase's unclear outcome raises instead of "try again".
    unclear: type[CarrierError] = LabelPurchaseUnknown if purchase else CarrierRetryableError
    try:
        response = client.request(method, url, headers=headers, auth=auth, json=body, timeout=timeout)
    except httpx.TimeoutException as exc:
        error = CarrierRetryableError if isinstance(exc, NEVER_SENT) else unclear
        raise error(f"{carrier}: no answer within {timeout:g} s to {where}") from exc
    except UNREQUESTABLE as exc:
        raise CarrierFinalError(f"{carrier}: cannot request {where} ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        error = CarrierRetryableError if isinstance(exc, NEVER_SENT) else unclear
        raise error(f"{carrier}: could not reach the API for {where} ({type(exc).__name__})") from exc
    payload = _decode(response)
    if response.is_success:
        if payload is NOT_JSON:
            raise unclear(f"{carrier}: the answer to {where} is not JSON")
        return payload
    if missing_ok and response.status_code == 404:
        return None
    explanation = read_error(payload) if payload is not NOT_JSON else ""
    message = f"{carrier}: HTTP {response.status_code} on {where}: {explanation or _text(response)}"
    if response.status_code in RETRYABLE_STATUSES:
        raise CarrierRetryableError(message)
    if response.status_code >= 500:
        raise unclear(message)
    raise CarrierFinalError(message)


def download_pdf(client: httpx.Client, url: str, *, carrier: str, timeout: float) -> bytes:
    """The label file behind ``url`` (a signed storage link: sent without the API credentials,
    which such links refuse and which must not leave for another host). Retryable when it did not
    download (no answer, 408/425/429, 5xx); final when the link is refused (any other 4xx), is not
    a URL, or gives a file that is not a PDF (asking again gives the same answer)."""
    if not url:
        raise CarrierFinalError(f"{carrier}: no label file to download")
    try:
        response = client.get(url, timeout=timeout, follow_redirects=True)
    except UNREQUESTABLE as exc:
        raise CarrierFinalError(f"{carrier}: the label file's URL cannot be requested ({type(exc).__name__})") from exc
    except httpx.HTTPError as exc:
        raise CarrierRetryableError(f"{carrier}: the label file did not download ({type(exc).__name__})") from exc
    if not response.is_success:
        message = f"{carrier}: the label file did not download (HTTP {response.status_code})"
        if response.status_code in RETRYABLE_STATUSES or response.status_code >= 500:
            raise CarrierRetryableError(message)
        raise CarrierFinalError(message)
    if not response.content.startswith(b"%PDF"):
        raise CarrierFinalError(f"{carrier}: the label file is not a PDF")
    return response.content


def download_bought_label(
    client: httpx.Client,
    url: str | None,
    *,
    carrier: str,
    timeout: float,
    pause: float,
    tracking_number: str | None,
    carrier_reference: str | None,
    tracking_carrier: str | None,
) -> bytes:
    """The PDF of a label the carrier has just sold. Tried ``LABEL_DOWNLOAD_ATTEMPTS`` times
    whatever the failure (a storage link written a moment ago may refuse for that moment), pausing
    ``pause`` then twice that in between. If it still fails, or the carrier gave no file at all,
    raises ``LabelPurchased`` with what the carrier gave: never a retryable or final error, which
    would have the caller buy (and pay for) the label again."""

    def purchased(why: str) -> LabelPurchased:
        return LabelPurchased(
            f"{carrier}: label {carrier_reference or tracking_number or '(no reference)'} was bought, but {why}",
            tracking_number=tracking_number,
            carrier_reference=carrier_reference,
            label_url=url or None,
            tracking_carrier=tracking_carrier,
        )

    if not url:
        raise purchased("the carrier gave no PDF file for it")
    failure: CarrierError | None = None
    for attempt in range(LABEL_DOWNLOAD_ATTEMPTS):
        if attempt and pause > 0:
            time.sleep(pause * attempt)
        try:
            return download_pdf(client, url, carrier=carrier, timeout=timeout)
        except CarrierError as error:
            failure = error
    raise purchased(f"its file could not be had in {LABEL_DOWNLOAD_ATTEMPTS} attempts (last: {failure})") from failure


def _decode(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return NOT_JSON


def _text(response: httpx.Response) -> str:
    text = " ".join(response.text.split())[:ERROR_TEXT_LIMIT]
    return text or response.reason_phrase


def amount_minor(amount: object, currency: str) -> int | None:
    """A quoted price (``"7.25"``) in the currency's minor units, or None when it is unreadable.
    Decimal all the way: a float would turn 7.25 into 7.249999..."""
    try:
        return Money.from_decimal(str(amount), currency).amount_minor
    except ArithmeticError:
        return None


def cheapest_first(rates: Sequence[Rate]) -> list[Rate]:
    """Cheapest first; ties in a stable order (carrier, service, id) so the choice is repeatable."""
    return sorted(
        rates,
        key=lambda rate: (
            Money(rate.amount_minor, rate.currency).to_decimal(),
            rate.carrier,
            rate.service,
            rate.rate_id,
        ),
    )


def choose_rate(rates: Sequence[Rate], preferred_service: str | None, *, carrier: str) -> Rate:
    """The shop's preferred service when it has one, else the cheapest rate. A preferred service
    the carrier does not offer for this parcel is final: buying another one silently would change
    the shop's cost and delay without anyone deciding it."""
    if not rates:
        raise CarrierFinalError(f"{carrier}: no rate for this parcel")
    ordered = cheapest_first(rates)
    if preferred_service is None:
        return ordered[0]
    for rate in ordered:
        if rate.service.casefold() == preferred_service.casefold():
            return rate
    offered = ", ".join(sorted({rate.service for rate in ordered}))
    raise CarrierFinalError(
        f"{carrier}: service {preferred_service!r} is not offered for this parcel (offered: {offered})"
    )


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A request header whatever the case of its name (plain dicts are case-sensitive)."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def parse_instant(value: object) -> datetime | None:
    """An ISO 8601 instant as an aware UTC datetime; a time without an offset is taken as UTC (what
    both carriers send), an empty or unreadable one is None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def stable_id(*parts: object) -> str:
    """A repeatable id for an event the carrier gives no id: the same scan seen by polling and by a
    webhook gets the same id, so it is stored once."""
    return hashlib.sha256("\x1f".join(str(part) for part in parts).encode()).hexdigest()


def place(*parts: object) -> str | None:
    """A printable location from its non-empty parts."""
    text = ", ".join(str(part) for part in parts if part)
    return text or None


def round_up(value: Decimal, step: Decimal) -> Decimal:
    """``value`` rounded up to a multiple of ``step``: a parcel declared lighter (or smaller) than
    it is gets surcharged or refused by the carrier, a tenth of an ounce more costs nothing."""
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def as_dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []
