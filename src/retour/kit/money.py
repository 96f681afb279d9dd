"""Money as integer minor units plus an ISO 4217 currency. Never floats."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

# ISO 4217 minor-unit exponents that differ from 2.
_EXPONENTS: dict[str, int] = {
    "JPY": 0,
    "KRW": 0,
    "CLP": 0,
    "ISK": 0,
    "VND": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "HUF": 2,
    "KWD": 3,
    "BHD": 3,
    "JOD": 3,
    "OMR": 3,
    "TND": 3,
    "LYD": 3,
    "IQD": 3,
}
_KNOWN = {
    "EUR",
    "USD",
    "GBP",
    "CHF",
    "CAD",
    "AUD",
    "SEK",
    "NOK",
    "DKK",
    "PLN",
    "CZK",
    "NZD",
    "MAD",
    "HUF",
    "RON",
    "BGN",
    "SGD",
    "HKD",
    "CNY",
    "INR",
    "BRL",
    "MXN",
    "ZAR",
    "TRY",
    "AED",
    *_EXPONENTS,
}


class CurrencyMismatch(ValueError):
    pass


def exponent(currency: str) -> int:
    """Number of decimal places of the currency's minor unit (EUR 2, JPY 0, KWD 3)."""
    return _EXPONENTS.get(currency, 2)


def is_known_currency(currency: str) -> bool:
    return currency in _KNOWN


@dataclass(frozen=True, slots=True, order=False)
class Money:
    amount_minor: int
    currency: str

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    @classmethod
    def from_decimal(cls, value: Decimal | str, currency: str) -> Money:
        quantum = Decimal(1).scaleb(-exponent(currency))
        scaled = Decimal(value).quantize(quantum, rounding=ROUND_HALF_EVEN).scaleb(exponent(currency))
        return cls(int(scaled), currency)

    def to_decimal(self) -> Decimal:
        return Decimal(self.amount_minor).scaleb(-exponent(self.currency))

    def _check(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} vs {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._check(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __mul__(self, factor: int) -> Money:
        if not isinstance(factor, int):
            raise TypeError("Money can only be multiplied by an int; use percent() for rates")
        return Money(self.amount_minor * factor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._check(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        self._check(other)
        return self.amount_minor <= other.amount_minor

    def percent(self, rate_percent: Decimal | int | str) -> Money:
        """``rate_percent`` % of this amount, rounded half-even to the minor unit."""
        value = (Decimal(self.amount_minor) * Decimal(rate_percent) / Decimal(100)).quantize(
            Decimal(1), rounding=ROUND_HALF_EVEN
        )
        return Money(int(value), self.currency)

    def allocate(self, parts: int) -> list[Money]:
        """Split into ``parts`` amounts that differ by at most one minor unit and add up exactly."""
        if parts <= 0:
            raise ValueError("parts must be positive")
        base, remainder = divmod(self.amount_minor, parts)
        return [Money(base + (1 if i < remainder else 0), self.currency) for i in range(parts)]

    def format(self, locale: str = "en") -> str:
        """Human format: ``€12.50`` in English, ``12,50 €`` in French."""
        from babel.numbers import format_currency

        return str(format_currency(self.to_decimal(), self.currency, locale=_babel_locale(locale)))

    def __str__(self) -> str:
        return f"{self.to_decimal()} {self.currency}"


def _babel_locale(language: str) -> str:
    return {"fr": "fr_FR", "en": "en_GB"}.get(language, language)


def sum_money(amounts: list[Money], currency: str) -> Money:
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total
