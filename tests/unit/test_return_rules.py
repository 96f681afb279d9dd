from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retour.kit.money import Money
from retour.return_request import rules


@pytest.mark.parametrize(
    ("status", "event", "expected"),
    [
        ("requested", "approve", "approved"),
        ("requested", "reject", "rejected"),
        ("requested", "cancel", "cancelled"),
        ("approved", "cancel", "cancelled"),
        ("approved", "start", "in_progress"),
        ("approved", "expire", "expired"),
        ("in_progress", "complete", "completed"),
    ],
)
def test_allowed_transitions(status: str, event: str, expected: str) -> None:
    assert rules.transition(status, event) == expected


@pytest.mark.parametrize(
    ("status", "event"),
    [
        ("approved", "approve"),
        ("rejected", "approve"),
        ("cancelled", "cancel"),
        ("completed", "cancel"),
        ("in_progress", "cancel"),
        ("requested", "complete"),
        ("expired", "approve"),
    ],
)
def test_refused_transitions_say_why(status: str, event: str) -> None:
    with pytest.raises(rules.TransitionRefused) as refused:
        rules.transition(status, event)
    assert str(refused.value).startswith(f"a return that is {status} cannot be")


def item(**kw: object) -> rules.QuoteLineInput:
    values: dict[str, object] = dict(
        order_line_id=1,
        line_quantity=3,
        line_paid_amount=10000,
        line_tax_amount=1667,
        quantity=1,
        already_returned=0,
    )
    values.update(kw)
    return rules.QuoteLineInput(**values)  # type: ignore[arg-type]


def test_quote_refunds_the_price_paid_and_splits_remainders_exactly() -> None:
    first = rules.quote_refund([item(quantity=1)], currency="EUR", resolution="refund")
    rest = rules.quote_refund([item(quantity=2, already_returned=1)], currency="EUR", resolution="refund")
    assert first.items == Money(3334, "EUR")
    assert rest.items == Money(6666, "EUR")
    assert first.tax.amount_minor + rest.tax.amount_minor == 1667


def test_quote_deducts_fees_and_adds_the_credit_bonus() -> None:
    quote = rules.quote_refund(
        [item(line_quantity=1, line_paid_amount=20000, line_tax_amount=0, restocking_fee_percent=Decimal(10))],
        currency="EUR",
        resolution="store_credit",
        return_shipping_fee_amount=500,
        bonus_credit_percent=Decimal(10),
    )
    assert quote.items.amount_minor == 20000
    assert quote.restocking_fee.amount_minor == 2000
    assert quote.return_shipping_fee.amount_minor == 500
    assert quote.bonus.amount_minor == 1750
    assert quote.total.amount_minor == 19250


def test_bonus_only_for_store_credit() -> None:
    quote = rules.quote_refund([item()], currency="EUR", resolution="refund", bonus_credit_percent=Decimal(10))
    assert quote.bonus.amount_minor == 0
    assert quote.total.amount_minor == 3334


def test_fees_never_make_the_refund_negative() -> None:
    quote = rules.quote_refund(
        [item(line_quantity=1, line_paid_amount=300, restocking_fee_amount=500)],
        currency="EUR",
        resolution="refund",
        return_shipping_fee_amount=900,
    )
    assert quote.total.amount_minor == 0


@given(st.integers(1, 50), st.integers(0, 10**9), st.lists(st.integers(1, 5), min_size=1, max_size=10))
def test_partial_returns_of_a_line_add_up_to_what_was_paid(quantity: int, paid: int, chunks: list[int]) -> None:
    total, start = 0, 0
    for chunk in chunks:
        if start >= quantity:
            break
        count = min(chunk, quantity - start)
        total += rules.units_paid(paid, quantity, "EUR", start=start, count=count).amount_minor
        start += count
    if start == quantity:
        assert total == paid
    assert total <= paid
