"""Reading one CSV cell: amounts in the currency's minor unit, dates, booleans, lists and
``key=value`` attributes. Each parser raises ``FieldError`` with a reason a shop owner can act on."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation

from retour.kit.money import Money, exponent, is_known_currency

_TRUE = {"yes", "y", "true", "1", "oui", "o"}
_FALSE = {"no", "n", "false", "0", "non", ""}
_SPACES = ("\u00a0", "\u202f", " ", "\u2009")


class FieldError(ValueError):
    """A cell that cannot be read; the message says why."""


def currency(text: str) -> str:
    code = text.strip().upper()
    if not is_known_currency(code):
        raise FieldError(f"unknown ISO 4217 currency '{text.strip()}'")
    return code


def amount(text: str, currency_code: str) -> int:
    """``129.00`` (or ``129,00``, ``1 290.50``) in minor units of the currency: 12900 for EUR,
    129 for JPY, 129000 for KWD. More decimals than the currency has is refused, never rounded."""
    cleaned = text.strip()
    if not cleaned:
        raise FieldError("missing")
    for space in _SPACES:
        cleaned = cleaned.replace(space, "")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise FieldError(f"'{text.strip()}' is not an amount like 129.00") from None
    if not value.is_finite() or value < 0:
        raise FieldError(f"'{text.strip()}' is not a positive amount")
    places = exponent(currency_code)
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise FieldError(f"'{text.strip()}' has more decimals than {currency_code} allows ({places})")
    return Money.from_decimal(value, currency_code).amount_minor


def optional_amount(text: str, currency_code: str) -> int:
    return amount(text, currency_code) if text.strip() else 0


def whole_number(text: str) -> int:
    if not text.strip():
        raise FieldError("missing")
    try:
        return int(text.strip())
    except ValueError:
        raise FieldError(f"'{text.strip()}' is not a whole number") from None


def boolean(text: str) -> bool:
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise FieldError(f"'{text.strip()}' is not yes/no, true/false or 1/0")


def moment(text: str) -> datetime:
    """An ISO 8601 date or date-time. A bare date means noon UTC that day (so that it stays the
    same day in every European time zone); a date-time without an offset is taken as UTC."""
    value = text.strip()
    if not value:
        raise FieldError("missing")
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(12), tzinfo=UTC)
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FieldError(f"'{value}' is not an ISO 8601 date (2026-11-02) or date-time") from None
    # Stored in UTC: SQLite keeps no offset, so 10:00+01:00 must become 09:00 before it gets there.
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def optional_moment(text: str) -> datetime | None:
    return moment(text) if text.strip() else None


def items(text: str) -> list[str]:
    """``gift|vip`` → ``["gift", "vip"]``."""
    return [item.strip() for item in text.split("|") if item.strip()]


def attributes(text: str) -> dict[str, str]:
    """``size=52|metal=or jaune`` → ``{"size": "52", "metal": "or jaune"}``."""
    found: dict[str, str] = {}
    for item in items(text):
        key, separator, value = item.partition("=")
        if not separator or not key.strip():
            raise FieldError(f"'{item}' is not key=value (separate several with |)")
        found[key.strip()] = value.strip()
    return found
