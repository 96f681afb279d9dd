from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retour.kit.money import CurrencyMismatch, Money, exponent


def test_exponents() -> None:
    assert (exponent("EUR"), exponent("JPY"), exponent("KWD")) == (2, 0, 3)


def test_from_decimal_rounds_half_even_to_the_minor_unit() -> None:
    assert Money.from_decimal("12.345", "EUR") == Money(1234, "EUR")
    assert Money.from_decimal("12.355", "EUR") == Money(1236, "EUR")
    assert Money.from_decimal("1500", "JPY") == Money(1500, "JPY")
    assert Money.from_decimal("1.2345", "KWD") == Money(1234, "KWD")


def test_currencies_never_mix() -> None:
    with pytest.raises(CurrencyMismatch):
        _ = Money(1, "EUR") + Money(1, "USD")


def test_formatting_in_both_languages() -> None:
    assert Money(1250, "EUR").format("en") == "€12.50"
    assert Money(1250, "EUR").format("fr").replace("\u202f", " ").replace("\xa0", " ") == "12,50 €"


def test_percent_rounds_half_even() -> None:
    assert Money(1005, "EUR").percent(10) == Money(100, "EUR")
    assert Money(1015, "EUR").percent(10) == Money(102, "EUR")
    assert Money(999, "EUR").percent(Decimal("12.5")) == Money(125, "EUR")


@given(st.integers(-(10**12), 10**12), st.integers(1, 1000))
def test_allocate_adds_up_exactly(amount: int, parts: int) -> None:
    shares = Money(amount, "EUR").allocate(parts)
    assert sum(share.amount_minor for share in shares) == amount
    assert max(s.amount_minor for s in shares) - min(s.amount_minor for s in shares) <= 1
