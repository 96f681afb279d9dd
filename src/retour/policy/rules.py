"""Pure policy decisions: which order lines can come back, until when, how, and at what cost.

Rules are applied in order. Every rule whose conditions hold *fires*: its actions override what
earlier rules and the defaults said (window, resolutions, methods, fees), except that
``return_until``/``return_until_month_day`` only ever *extend* the deadline (a holiday extension
never shortens a VIP window) and ``manual_review``/``photos_required``/``waive_fees`` stay on once
a rule turned them on. A rule with ``deny`` makes the line not eligible with its message. A rule
with ``stop`` ends the evaluation. Conditions that need a reason never fire before the customer
has given one.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal

from retour.kit.money import Money
from retour.policy.schemas import (
    Actions,
    Conditions,
    CustomerSegment,
    Method,
    PolicyDocument,
    Resolution,
    Rule,
    Status,
)


@dataclass(frozen=True)
class Explanation:
    rule_id: str
    en: str
    fr: str


@dataclass(frozen=True)
class OrderFacts:
    placed_on: date
    shipped_on: date | None
    delivered_on: date | None
    country: str
    currency: str
    customer_tags: frozenset[str] = frozenset()
    earlier_returns: int = 0
    """The customer's returns before this one (cancelled and rejected ones do not count)."""
    orders_count: int | None = None
    """The customer's orders in the shop, this one included; None when not known."""

    @property
    def customer_segments(self) -> frozenset[CustomerSegment]:
        return customer_segments(
            tags=self.customer_tags, earlier_returns=self.earlier_returns, orders_count=self.orders_count
        )


VIP_TAG = "vip"
SERIAL_RETURNER_RETURNS = 3
"""Earlier returns from which a customer returns "often" (with at least one return per two orders)."""


def customer_segments(
    *, tags: frozenset[str], earlier_returns: int, orders_count: int | None
) -> frozenset[CustomerSegment]:
    """The segments a customer belongs to, from what the shop and Retour already know of them
    (a customer can be in several: a VIP who returns often).

    - ``vip``: the shop tagged the customer ``vip`` (any case);
    - ``serial_returner``: at least ``SERIAL_RETURNER_RETURNS`` earlier returns, and, when the
      number of orders is known, at least one earlier return for every two orders (ten returns
      over a hundred orders is a loyal customer, not a serial returner);
    - ``new_customer``: this is the customer's only order in the shop;
    - ``returning_customer``: the customer has ordered more than once.
    Neither of the last two is given when the number of orders is not known."""
    found: set[CustomerSegment] = set()
    if VIP_TAG in {tag.strip().lower() for tag in tags}:
        found.add("vip")
    if earlier_returns >= SERIAL_RETURNER_RETURNS and (orders_count is None or 2 * earlier_returns >= orders_count):
        found.add("serial_returner")
    if orders_count is not None and orders_count <= 1:
        found.add("new_customer")
    if orders_count is not None and orders_count >= 2:
        found.add("returning_customer")
    return frozenset(found)


@dataclass(frozen=True)
class LineFacts:
    order_line_id: int
    sku: str
    product_id: str | None
    category: str
    tags: frozenset[str]
    is_final_sale: bool
    quantity: int
    paid_amount: int
    """What was paid for the whole line (after discounts, tax included), minor units."""
    is_discounted: bool
    already_returned: int = 0
    reason_codes: frozenset[str] = frozenset()
    """The reason given and its ancestors (empty before the customer chose one)."""

    @property
    def unit_paid_amount(self) -> int:
        return self.paid_amount // self.quantity if self.quantity else 0


@dataclass(frozen=True)
class LineDecision:
    order_line_id: int
    status: Status
    returnable_quantity: int
    deadline: date | None
    resolutions: tuple[Resolution, ...]
    methods: tuple[Method, ...]
    restocking_fee_percent: Decimal
    restocking_fee_amount: int
    return_shipping_fee_amount: int
    bonus_credit_percent: Decimal
    photos_required: bool
    fees_waived: bool
    explanations: tuple[Explanation, ...]
    refusal: Explanation | None = None
    review_rule_ids: tuple[str, ...] = ()
    """The rules that asked for a manual review (a subset of those in ``explanations``)."""

    @property
    def is_returnable(self) -> bool:
        return self.status != "not_eligible" and self.returnable_quantity > 0


@dataclass
class _Draft:
    window_days: int
    window_from: str
    until: date | None
    resolutions: tuple[Resolution, ...]
    methods: tuple[Method, ...]
    restocking_fee_percent: Decimal
    restocking_fee_amount: int
    return_shipping_fee_amount: int
    bonus_credit_percent: Decimal
    photos_required: bool
    manual_review: bool = False
    fees_waived: bool = False
    denial: Explanation | None = None
    explanations: list[Explanation] = field(default_factory=list)
    review_rule_ids: list[str] = field(default_factory=list)


def evaluate_eligibility(
    policy: PolicyDocument, order: OrderFacts, lines: list[LineFacts], *, today: date
) -> list[LineDecision]:
    """Decide, for each order line, whether it can be returned and on which terms."""
    return [evaluate_line(policy, order, line, today=today) for line in lines]


def evaluate_line(policy: PolicyDocument, order: OrderFacts, line: LineFacts, *, today: date) -> LineDecision:
    defaults = policy.defaults
    draft = _Draft(
        window_days=defaults.window_days,
        window_from=defaults.window_from,
        until=None,
        resolutions=tuple(defaults.resolutions),
        methods=tuple(defaults.methods),
        restocking_fee_percent=defaults.restocking_fee_percent,
        restocking_fee_amount=defaults.restocking_fee_amount,
        return_shipping_fee_amount=defaults.return_shipping_fee_amount,
        bonus_credit_percent=defaults.bonus_credit_percent,
        photos_required=defaults.photos_required,
    )
    for rule in policy.rules:
        if not matches(rule.when, order, line, today=today):
            continue
        _apply(draft, rule, order)
        draft.explanations.append(explain_rule(rule, order.currency))
        if rule.then.deny or rule.stop:
            break
    return _decide(draft, order, line, today=today)


def _apply(draft: _Draft, rule: Rule, order: OrderFacts) -> None:
    then = rule.then
    if then.window_days is not None:
        draft.window_days = then.window_days
    if then.window_from is not None:
        draft.window_from = then.window_from
    for until in (then.return_until, _next_month_day(then.return_until_month_day, order.placed_on)):
        if until is not None and (draft.until is None or until > draft.until):
            draft.until = until
    if then.resolutions is not None:
        draft.resolutions = tuple(then.resolutions)
    if then.methods is not None:
        draft.methods = tuple(then.methods)
    if then.restocking_fee_percent is not None:
        draft.restocking_fee_percent = then.restocking_fee_percent
    if then.restocking_fee_amount is not None:
        draft.restocking_fee_amount = then.restocking_fee_amount
    if then.return_shipping_fee_amount is not None:
        draft.return_shipping_fee_amount = then.return_shipping_fee_amount
    if then.bonus_credit_percent is not None:
        draft.bonus_credit_percent = then.bonus_credit_percent
    draft.photos_required = draft.photos_required or bool(then.photos_required)
    draft.manual_review = draft.manual_review or bool(then.manual_review)
    if then.manual_review:
        draft.review_rule_ids.append(rule.id)
    draft.fees_waived = draft.fees_waived or bool(then.waive_fees)
    if then.deny and then.message is not None:
        draft.denial = Explanation(rule.id, then.message.en, then.message.fr)


def _decide(draft: _Draft, order: OrderFacts, line: LineFacts, *, today: date) -> LineDecision:
    returnable = max(line.quantity - line.already_returned, 0)
    start = _window_start(draft.window_from, order)
    deadline = start + timedelta(days=draft.window_days) if start is not None else None
    if deadline is not None and draft.until is not None and draft.until > deadline:
        deadline = draft.until
    refusal = draft.denial or _refusal(draft, start, deadline, returnable, today=today)
    status: Status = "not_eligible" if refusal else ("needs_review" if draft.manual_review else "eligible")
    waived = draft.fees_waived
    return LineDecision(
        order_line_id=line.order_line_id,
        status=status,
        returnable_quantity=0 if refusal else returnable,
        deadline=deadline,
        resolutions=draft.resolutions,
        methods=draft.methods,
        restocking_fee_percent=Decimal(0) if waived else draft.restocking_fee_percent,
        restocking_fee_amount=0 if waived else draft.restocking_fee_amount,
        return_shipping_fee_amount=0 if waived else draft.return_shipping_fee_amount,
        bonus_credit_percent=draft.bonus_credit_percent,
        photos_required=draft.photos_required,
        fees_waived=waived,
        explanations=tuple(draft.explanations),
        refusal=refusal,
        review_rule_ids=tuple(draft.review_rule_ids),
    )


def _refusal(
    draft: _Draft, start: date | None, deadline: date | None, returnable: int, *, today: date
) -> Explanation | None:
    if start is None:
        return Explanation(
            "not_delivered",
            "This item has not been delivered yet: it can be returned once it has arrived.",
            "Cet article n'a pas encore été livré : il pourra être retourné une fois reçu.",
        )
    if deadline is not None and today > deadline:
        return Explanation(
            "window_closed",
            f"The return window closed on {format_date(deadline, 'en')}.",
            f"Le délai de retour a pris fin le {format_date(deadline, 'fr')}.",
        )
    if returnable <= 0:
        return Explanation(
            "already_returned",
            "Every unit of this item is already in a return.",
            "Toutes les unités de cet article font déjà l'objet d'un retour.",
        )
    if not draft.resolutions:
        return Explanation(
            "no_resolution",
            "The return policy offers no way to return this item.",
            "La politique de retour ne propose aucune solution pour cet article.",
        )
    return None


def _window_start(window_from: str, order: OrderFacts) -> date | None:
    """Where the clock starts. Not shipped yet means not returnable yet."""
    if order.shipped_on is None and order.delivered_on is None:
        return None
    if window_from == "order":
        return order.placed_on
    if window_from == "shipment":
        return order.shipped_on or order.delivered_on
    return order.delivered_on or (order.shipped_on + timedelta(days=3) if order.shipped_on else None)


def matches(when: Conditions, order: OrderFacts, line: LineFacts, *, today: date) -> bool:
    """Do all the rule's conditions hold for this line?"""
    return all(check(when, order, line, today) for check in _CHECKS)


def _days_since(day: date | None, today: date) -> int | None:
    return (today - day).days if day is not None else None


def _within(value: int | None, greater_than: int | None, at_most: int | None) -> bool:
    if greater_than is None and at_most is None:
        return True
    if value is None:
        return False
    return (greater_than is None or value > greater_than) and (at_most is None or value <= at_most)


def _any_of(wanted: list[str] | None, have: frozenset[str] | set[str]) -> bool:
    return wanted is None or bool(set(wanted) & set(have))


_CHECKS = (
    lambda w, o, _l, t: _within(_days_since(o.delivered_on, t), w.days_since_delivery_gt, w.days_since_delivery_lte),
    lambda w, o, _l, t: _within(_days_since(o.placed_on, t), w.days_since_order_gt, w.days_since_order_lte),
    lambda w, o, _l, _t: w.order_placed_from is None or o.placed_on >= w.order_placed_from,
    lambda w, o, _l, _t: w.order_placed_to is None or o.placed_on <= w.order_placed_to,
    lambda w, o, _l, _t: (
        w.order_placed_between_month_days is None or _in_month_days(o.placed_on, w.order_placed_between_month_days)
    ),
    lambda w, _o, line, _t: w.skus is None or line.sku in w.skus,
    lambda w, _o, line, _t: w.product_ids is None or line.product_id in w.product_ids,
    lambda w, _o, line, _t: w.categories is None or line.category in w.categories,
    lambda w, _o, line, _t: _any_of(w.tags_any, line.tags),
    lambda w, _o, line, _t: w.is_final_sale is None or line.is_final_sale == w.is_final_sale,
    lambda w, _o, line, _t: w.is_discounted is None or line.is_discounted == w.is_discounted,
    lambda w, _o, line, _t: w.unit_price_gte is None or line.unit_paid_amount >= w.unit_price_gte,
    lambda w, _o, line, _t: w.unit_price_lt is None or line.unit_paid_amount < w.unit_price_lt,
    lambda w, o, _l, _t: _any_of(w.customer_tags_any, o.customer_tags),
    lambda w, o, _l, _t: w.countries is None or o.country.upper() in w.countries,
    lambda w, _o, line, _t: _any_of(w.reasons, line.reason_codes),
    lambda w, o, _l, _t: w.earlier_returns_gte is None or o.earlier_returns >= w.earlier_returns_gte,
    lambda w, o, _l, _t: _any_of(w.customer_segment_in, o.customer_segments),
)


def _month_day(value: str) -> tuple[int, int]:
    month, day = value.split("-")
    return int(month), int(day)


def _in_month_days(day: date, between: tuple[str, str]) -> bool:
    start, end = _month_day(between[0]), _month_day(between[1])
    here = (day.month, day.day)
    return start <= here <= end if start <= end else (here >= start or here <= end)


def _next_month_day(value: str | None, after: date) -> date | None:
    """The first date with that month-day strictly after ``after`` (orders of 20 Nov → 31 Jan)."""
    if value is None:
        return None
    month, day = _month_day(value)
    for year in (after.year, after.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:  # 29 Feb in a common year
            candidate = date(year, month, 28)
        if candidate > after:
            return candidate
    raise AssertionError("unreachable")  # pragma: no cover


def excluded_quantity(decision: LineDecision, requested: int) -> int:
    return max(requested - decision.returnable_quantity, 0)


def with_reason(line: LineFacts, reason_codes: frozenset[str]) -> LineFacts:
    return replace(line, reason_codes=reason_codes)


# ---- Human-readable explanations (English and French) -------------------------------------------

_MONTHS_FR = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
RESOLUTION_LABELS = {
    "refund": ("refund to the original payment", "remboursement sur le moyen de paiement d'origine"),
    "store_credit": ("store credit", "avoir en boutique"),
    "exchange": ("exchange", "échange"),
    "keep": ("keep the item and be refunded", "conserver l'article et être remboursé"),
}
METHOD_LABELS = {
    "prepaid_label": ("prepaid label", "étiquette prépayée"),
    "drop_off": ("drop-off point with a QR code", "dépôt en point relais avec un QR code"),
    "in_store": ("return in store", "retour en boutique"),
    "home_pickup": ("home pickup", "enlèvement à domicile"),
    "customer_ships": ("ship it yourself", "envoi par vos soins"),
}
SEGMENT_LABELS: dict[CustomerSegment, tuple[str, str]] = {
    "vip": ("VIP customers", "clients VIP"),
    "serial_returner": ("customers who return often", "clients qui retournent souvent"),
    "new_customer": ("first-time customers", "clients à leur première commande"),
    "returning_customer": ("returning customers", "clients ayant déjà commandé"),
}
_FROM_LABELS = {
    "delivery": ("delivery", "la livraison"),
    "order": ("the order", "la commande"),
    "shipment": ("shipment", "l'expédition"),
}


def format_date(day: date, language: str) -> str:
    if language == "fr":
        return f"{day.day} {_MONTHS_FR[day.month - 1]} {day.year}"
    return f"{day.day} {_MONTHS_EN[day.month - 1]} {day.year}"


def _month_day_text(value: str, language: str) -> str:
    month, day = _month_day(value)
    return f"{day} {_MONTHS_FR[month - 1]}" if language == "fr" else f"{day} {_MONTHS_EN[month - 1]}"


def _join(items: list[str], language: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    conjunction = " ou " if language == "fr" else " or "
    return ", ".join(items[:-1]) + conjunction + items[-1]


def describe_segments(segments: list[CustomerSegment]) -> tuple[str, str]:
    """A ``customer_segment_in`` condition as a phrase in English and in French:
    ``VIP customers or first-time customers`` / ``clients VIP ou clients à leur première commande``."""
    return (
        _join([SEGMENT_LABELS[segment][0] for segment in segments], "en"),
        _join([SEGMENT_LABELS[segment][1] for segment in segments], "fr"),
    )


def describe_actions(then: Actions, currency: str) -> tuple[str, str]:
    """What a rule does, as one sentence in English and one in French."""
    if then.deny and then.message is not None:
        return then.message.en, then.message.fr
    en: list[str] = []
    fr: list[str] = []
    if then.window_days is not None:
        start_en, start_fr = _FROM_LABELS[then.window_from or "delivery"]
        en.append(f"returnable for {then.window_days} days from {start_en}")
        fr.append(f"retour possible pendant {then.window_days} jours après {start_fr}")
    if then.return_until is not None:
        en.append(f"returnable until {format_date(then.return_until, 'en')}")
        fr.append(f"retour possible jusqu'au {format_date(then.return_until, 'fr')}")
    if then.return_until_month_day is not None:
        en.append(f"returnable until {_month_day_text(then.return_until_month_day, 'en')}")
        fr.append(f"retour possible jusqu'au {_month_day_text(then.return_until_month_day, 'fr')}")
    if then.resolutions is not None:
        en.append("offered: " + _join([RESOLUTION_LABELS[r][0] for r in then.resolutions], "en"))
        fr.append("proposé : " + _join([RESOLUTION_LABELS[r][1] for r in then.resolutions], "fr"))
    if then.methods is not None:
        en.append("return by " + _join([METHOD_LABELS[m][0] for m in then.methods], "en"))
        fr.append("retour par " + _join([METHOD_LABELS[m][1] for m in then.methods], "fr"))
    if then.restocking_fee_percent:
        en.append(f"restocking fee of {then.restocking_fee_percent}% per item")
        fr.append(f"frais de remise en stock de {then.restocking_fee_percent} % par article")
    if then.restocking_fee_amount:
        amount = Money(then.restocking_fee_amount, currency)
        en.append(f"restocking fee of {amount.format('en')} per item")
        fr.append(f"frais de remise en stock de {amount.format('fr')} par article")
    if then.return_shipping_fee_amount is not None:
        amount = Money(then.return_shipping_fee_amount, currency)
        if then.return_shipping_fee_amount:
            en.append(f"return shipping costs {amount.format('en')}")
            fr.append(f"frais de retour de {amount.format('fr')}")
        else:
            en.append("free return shipping")
            fr.append("retour gratuit")
    if then.bonus_credit_percent:
        en.append(f"{then.bonus_credit_percent}% bonus on store credit")
        fr.append(f"bonus de {then.bonus_credit_percent} % sur l'avoir")
    if then.photos_required:
        en.append("photos required")
        fr.append("photos obligatoires")
    if then.waive_fees:
        en.append("no fees")
        fr.append("aucun frais")
    if then.manual_review:
        en.append("reviewed by our team before approval")
        fr.append("examiné par notre équipe avant validation")
    return "; ".join(en) or "no change", "; ".join(fr) or "aucun changement"


def explain_rule(rule: Rule, currency: str) -> Explanation:
    if rule.then.message is not None:
        return Explanation(
            rule.id, f"{rule.name.en}: {rule.then.message.en}", f"{rule.name.fr} : {rule.then.message.fr}"
        )
    en, fr = describe_actions(rule.then, currency)
    return Explanation(rule.id, f"{rule.name.en}: {en}.", f"{rule.name.fr} : {fr}.")
