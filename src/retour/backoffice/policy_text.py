"""The active return policy in sentences, in the page language: the defaults, then each rule as
"when ... → what it does". What a rule *does* comes from ``policy.rules.explain_rule``; when it
fires is phrased here, with the back-office catalog."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from babel.dates import format_date as babel_format_date

from retour.backoffice.pages import N_
from retour.kit.money import Money
from retour.policy import rules as policy_rules
from retour.policy.schemas import Actions, Conditions, Defaults, PolicyDocument

Translate = Callable[..., str]


@dataclass(frozen=True)
class RuleText:
    id: str
    name: str
    conditions: list[str]
    effect: str
    stops: bool


def describe_defaults(defaults: Defaults, currency: str, language: str, _: Translate) -> list[str]:
    """What applies when no rule says otherwise, one sentence each."""
    as_actions = Actions(
        window_days=defaults.window_days,
        window_from=defaults.window_from,
        resolutions=defaults.resolutions,
        methods=defaults.methods,
        restocking_fee_percent=defaults.restocking_fee_percent,
        restocking_fee_amount=defaults.restocking_fee_amount,
        return_shipping_fee_amount=defaults.return_shipping_fee_amount,
        bonus_credit_percent=defaults.bonus_credit_percent,
        photos_required=defaults.photos_required,
    )
    english, french = policy_rules.describe_actions(as_actions, currency)
    sentences = [_sentence(part) for part in (french if language == "fr" else english).split("; ")]
    if defaults.auto_approve:
        sentences.append(_(N_("Returns are approved automatically, unless a rule asks for a review.")))
    else:
        sentences.append(_(N_("Every return waits for a decision by the team.")))
    if defaults.refund_shipping:
        sentences.append(_(N_("The original shipping cost is refunded.")))
    return sentences


def describe_rules(
    document: PolicyDocument, currency: str, language: str, _: Translate, reason_labels: dict[str, str]
) -> list[RuleText]:
    described = []
    for rule in document.rules:
        explanation = policy_rules.explain_rule(rule, currency)
        effect = explanation.fr if language == "fr" else explanation.en
        name = rule.name.in_language(language)
        # explain_rule starts with the rule's name; the page shows the name apart.
        for prefix in (f"{name} : ", f"{name}: "):
            effect = effect.removeprefix(prefix)
        if language == "fr":  # French typography: a space before the semicolon
            effect = effect.replace("; ", " ; ")
        described.append(
            RuleText(
                id=rule.id,
                name=name,
                conditions=describe_conditions(rule.when, currency, language, _, reason_labels),
                effect=_sentence(effect),
                stops=rule.stop,
            )
        )
    return described


def describe_conditions(
    when: Conditions, currency: str, language: str, _: Translate, reason_labels: dict[str, str]
) -> list[str]:
    """Each condition of a rule as a short phrase; an empty list means the rule always applies."""
    parts: list[str] = []
    parts += _days(when.days_since_delivery_gt, when.days_since_delivery_lte, _, delivery=True)
    parts += _days(when.days_since_order_gt, when.days_since_order_lte, _, delivery=False)
    if when.order_placed_from:
        parts.append(
            _(N_("orders placed from %(date)s"), date=policy_rules.format_date(when.order_placed_from, language))
        )
    if when.order_placed_to:
        parts.append(
            _(N_("orders placed until %(date)s"), date=policy_rules.format_date(when.order_placed_to, language))
        )
    if when.order_placed_between_month_days:
        start, end = (_month_day(value, language) for value in when.order_placed_between_month_days)
        parts.append(_(N_("orders placed between %(start)s and %(end)s, every year"), start=start, end=end))
    lists = (
        (when.skus, N_("SKU: %(values)s")),
        (when.product_ids, N_("products: %(values)s")),
        (when.categories, N_("category: %(values)s")),
        (when.tags_any, N_("items tagged %(values)s")),
        (when.customer_tags_any, N_("customers tagged %(values)s")),
        (when.countries, N_("shipped to %(values)s")),
    )
    parts += [_(message, values=", ".join(values)) for values, message in lists if values is not None]
    if when.reasons is not None:
        labels = ", ".join(reason_labels.get(code, code) for code in when.reasons)
        parts.append(_(N_("reason: %(values)s"), values=labels))
    if when.is_final_sale is not None:
        parts.append(_(N_("final-sale items")) if when.is_final_sale else _(N_("items not sold as final sale")))
    if when.is_discounted is not None:
        parts.append(_(N_("discounted items")) if when.is_discounted else _(N_("items at full price")))
    if when.unit_price_gte is not None:
        amount = Money(when.unit_price_gte, currency).format(language)
        parts.append(_(N_("paid %(amount)s or more per unit"), amount=amount))
    if when.unit_price_lt is not None:
        amount = Money(when.unit_price_lt, currency).format(language)
        parts.append(_(N_("paid less than %(amount)s per unit"), amount=amount))
    if when.earlier_returns_gte is not None:
        parts.append(_(N_("customers with at least %(count)s earlier returns"), count=when.earlier_returns_gte))
    if when.customer_segment_in is not None:
        english, french = policy_rules.describe_segments(when.customer_segment_in)
        parts.append(french if language == "fr" else english)
    return parts


def _days(greater_than: int | None, at_most: int | None, _: Translate, *, delivery: bool) -> list[str]:
    parts = []
    if greater_than is not None:
        message = (
            N_("more than %(days)s days after delivery") if delivery else N_("more than %(days)s days after the order")
        )
        parts.append(_(message, days=greater_than))
    if at_most is not None:
        message = N_("up to %(days)s days after delivery") if delivery else N_("up to %(days)s days after the order")
        parts.append(_(message, days=at_most))
    return parts


def _month_day(value: str, language: str) -> str:
    month, day = (int(part) for part in value.split("-"))
    locale = "fr_FR" if language == "fr" else "en_GB"
    return str(babel_format_date(date(2000, month, day), "d MMMM", locale=locale))


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."
