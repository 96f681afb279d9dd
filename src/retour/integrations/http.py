"""What every HTTP carrier adapter shares: one call has one explicit timeout, and every way it can
fail lands in the carrier exception tree with the carrier's own words. ``CarrierRetryableError``
for what a later attempt may fix (no answer, connection refused, 408/425/429, 5xx, a 2xx that is
not JSON, a label file that did not download), ``CarrierFinalError`` for what it cannot (any other
4xx: bad key, refused address, unknown rate). The outbox retries the first and parks the second
for a person."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any
from urllib.parse import urlsplit

import httpx

from retour.kit.money import Money
from retour.shipment.carriers import CarrierFinalError, CarrierRetryableError, Rate

DEFAULT_TIMEOUT_SECONDS = 10.0
# 4xx answers that mean "not now" rather than "never".
RETRYABLE_STATUSES = frozenset({408, 425, 429})
ERROR_TEXT_LIMIT = 300

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
) -> Any:
    """The decoded JSON answer of one API call. Raises ``CarrierRetryableError`` or
    ``CarrierFinalError`` (message: carrier, status, the carrier's explanation) otherwise."""
    where = f"{method} {urlsplit(url).path}"
    try:
        response = client.request(method, url, headers=headers, auth=auth, json=body, timeout=timeout)
    except httpx.TimeoutException as exc:
        raise CarrierRetryableError(f"{carrier}: no answer within {timeout:g} s to {where}") from exc
    except httpx.TransportError as exc:
        raise CarrierRetryableError(f"{carrier}: could not reach the API for {where} ({type(exc).__name__})") from exc
    payload = _decode(response)
    if response.is_success:
        if payload is NOT_JSON:
            raise CarrierRetryableError(f"{carrier}: the answer to {where} is not JSON")
        return payload
    explanation = read_error(payload) if payload is not NOT_JSON else ""
    message = f"{carrier}: HTTP {response.status_code} on {where}: {explanation or _text(response)}"
    if response.status_code in RETRYABLE_STATUSES or response.status_code >= 500:
        raise CarrierRetryableError(message)
    raise CarrierFinalError(message)


def download_pdf(client: httpx.Client, url: str, *, carrier: str, timeout: float) -> bytes:
    """The label file behind ``url`` (a signed storage link: sent without the API credentials,
    which such links refuse and which must not leave for another host). A failed download is
    retryable; a file that is not a PDF is final (asking again gives the same file)."""
    try:
        response = client.get(url, timeout=timeout, follow_redirects=True)
    except httpx.TransportError as exc:
        raise CarrierRetryableError(f"{carrier}: the label file did not download ({type(exc).__name__})") from exc
    if not response.is_success:
        raise CarrierRetryableError(f"{carrier}: the label file did not download (HTTP {response.status_code})")
    if not response.content.startswith(b"%PDF"):
        raise CarrierFinalError(f"{carrier}: the label file is not a PDF")
    return response.content


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
