"""Pure decisions about a return: its state machine and its refund quote."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from retour.kit.money import Money

ReturnStatus = Literal["requested", "approved", "rejected", "cancelled", "in_progress", "completed", "expired"]
ReturnEvent = Literal["approve", "reject", "cancel", "start", "complete", "expire"]

_TRANSITIONS: dict[tuple[str, str], ReturnStatus] = {
    ("requested", "approve"): "approved",
    ("requested", "reject"): "rejected",
    ("requested", "cancel"): "cancelled",
    ("approved", "cancel"): "cancelled",
    ("approved", "start"): "in_progress",
    ("approved", "expire"): "expired",
    ("in_progress", "complete"): "completed",
}
OPEN: frozenset[str] = frozenset({"requested", "approved", "in_progress"})
FINAL: frozenset[str] = frozenset({"rejected", "cancelled", "completed", "expired"})


class TransitionRefused(Exception):
    def __init__(self, status: str, event: str) -> None:
        super().__init__(f"a return that is {status} cannot be {_PAST.get(event, event)}")
        self.status = status
        self.event = event


_PAST = {
    "approve": "approved",
    "reject": "rejected",
    "cancel": "cancelled",
    "start": "started",
    "complete": "completed",
    "expire": "expired",
}


def transition(status: str, event: str) -> ReturnStatus:
    """The status after ``event``, or ``TransitionRefused`` when the machine forbids it."""
    try:
        return _TRANSITIONS[(status, event)]
    except KeyError:
        raise TransitionRefused(status, event) from None


def allowed_events(status: str) -> list[str]:
    return [event for (origin, event) in _TRANSITIONS if origin == status]


@dataclass(frozen=True)
class QuoteLineInput:
    order_line_id: int
    line_quantity: int
    line_paid_amount: int
    line_tax_amount: int
    quantity: int
    already_returned: int
    restocking_fee_percent: Decimal = Decimal(0)
    restocking_fee_amount: int = 0


@dataclass(frozen=True)
class QuoteLine:
    order_line_id: int
    quantity: int
    item: Money
    tax: Money
    restocking_fee: Money

    @property
    def net(self) -> Money:
        return self.item - self.restocking_fee


@dataclass(frozen=True)
class Quote:
    currency: str
    resolution: str
    lines: tuple[QuoteLine, ...]
    items: Money
    tax: Money
    restocking_fee: Money
    return_shipping_fee: Money
    shipping_refund: Money
    bonus: Money
    total: Money

    def as_dict(self) -> dict[str, object]:
        return {
            "currency": self.currency,
            "resolution": self.resolution,
            "items_amount": self.items.amount_minor,
            "tax_amount": self.tax.amount_minor,
            "restocking_fee_amount": self.restocking_fee.amount_minor,
            "return_shipping_fee_amount": self.return_shipping_fee.amount_minor,
            "shipping_refund_amount": self.shipping_refund.amount_minor,
            "bonus_amount": self.bonus.amount_minor,
            "total_amount": self.total.amount_minor,
            "lines": [
                {
                    "order_line_id": line.order_line_id,
                    "quantity": line.quantity,
                    "item_amount": line.item.amount_minor,
                    "tax_amount": line.tax.amount_minor,
                    "restocking_fee_amount": line.restocking_fee.amount_minor,
                }
                for line in self.lines
            ],
        }


def units_paid(line_paid_amount: int, line_quantity: int, currency: str, *, start: int, count: int) -> Money:
    """What units ``start .. start+count`` of a line cost the customer. Allocating the paid
    total over units means that several partial returns of one line add up to exactly the total."""
    shares = Money(line_paid_amount, currency).allocate(line_quantity)
    return Money(sum(share.amount_minor for share in shares[start : start + count]), currency)


def quote_line(item: QuoteLineInput, currency: str) -> QuoteLine:
    paid = units_paid(
        item.line_paid_amount, item.line_quantity, currency, start=item.already_returned, count=item.quantity
    )
    tax = units_paid(
        item.line_tax_amount, item.line_quantity, currency, start=item.already_returned, count=item.quantity
    )
    fee = paid.percent(item.restocking_fee_percent) + Money(item.restocking_fee_amount * item.quantity, currency)
    fee = min(fee, paid, key=lambda money: money.amount_minor)
    return QuoteLine(item.order_line_id, item.quantity, paid, tax, fee)


def quote_refund(
    items: list[QuoteLineInput],
    *,
    currency: str,
    resolution: str,
    return_shipping_fee_amount: int = 0,
    bonus_credit_percent: Decimal = Decimal(0),
    shipping_refund_amount: int = 0,
) -> Quote:
    """What the customer gets back: items at the price actually paid, minus the restocking fee
    and the return shipping fee, plus the bonus when they take store credit. Never below zero.
    An exchange is quoted at the value of the items it replaces."""
    lines = tuple(quote_line(item, currency) for item in items)
    zero = Money.zero(currency)
    items_total = sum((line.item for line in lines), zero)
    tax_total = sum((line.tax for line in lines), zero)
    restocking = sum((line.restocking_fee for line in lines), zero)
    net = items_total - restocking
    shipping_fee = min(Money(return_shipping_fee_amount, currency), net, key=lambda money: money.amount_minor)
    bonus = (net - shipping_fee).percent(bonus_credit_percent) if resolution == "store_credit" else zero
    shipping_refund = Money(shipping_refund_amount, currency)
    total = net - shipping_fee + bonus + shipping_refund
    return Quote(
        currency,
        resolution,
        lines,
        items_total,
        tax_total,
        restocking,
        shipping_fee,
        shipping_refund,
        bonus,
        total,
    )
