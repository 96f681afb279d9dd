"""Pure policy decisions: no database, milliseconds each."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from retour.policy import rules
from retour.policy.defaults import DEFAULT_POLICY
from retour.policy.schemas import ALL_SEGMENTS, PolicyDocument


def policy(*extra_rules: dict[str, Any], **defaults: Any) -> PolicyDocument:
    document: dict[str, Any] = {
        "defaults": {**DEFAULT_POLICY["defaults"], **defaults},
        "rules": [*DEFAULT_POLICY["rules"], *extra_rules],
    }
    return PolicyDocument.model_validate(document)


def order(placed: date = date(2026, 10, 1), delivered: date | None = date(2026, 10, 5), **kw: Any) -> rules.OrderFacts:
    return rules.OrderFacts(
        placed_on=placed,
        shipped_on=placed,
        delivered_on=delivered,
        country=kw.pop("country", "FR"),
        currency="EUR",
        **kw,
    )


def line(**kw: Any) -> rules.LineFacts:
    values: dict[str, Any] = dict(
        order_line_id=1,
        sku="RING-1",
        product_id="p1",
        category="rings",
        tags=frozenset(),
        is_final_sale=False,
        quantity=1,
        paid_amount=12900,
        is_discounted=False,
    )
    values.update(kw)
    return rules.LineFacts(**values)


def decide(p: PolicyDocument, o: rules.OrderFacts, item: rules.LineFacts, today: date) -> rules.LineDecision:
    return rules.evaluate_line(p, o, item, today=today)


def test_window_counts_thirty_days_from_delivery_inclusive() -> None:
    on_last_day = decide(policy(), order(), line(), date(2026, 11, 4))
    assert (on_last_day.status, on_last_day.deadline, on_last_day.returnable_quantity) == (
        "eligible",
        date(2026, 11, 4),
        1,
    )
    day_after = decide(policy(), order(), line(), date(2026, 11, 5))
    assert day_after.status == "not_eligible"
    assert day_after.returnable_quantity == 0
    assert day_after.refusal is not None
    assert day_after.refusal.en == "The return window closed on 4 November 2026."
    assert day_after.refusal.fr == "Le délai de retour a pris fin le 4 novembre 2026."


def test_not_yet_shipped_order_is_not_returnable() -> None:
    facts = rules.OrderFacts(
        placed_on=date(2026, 11, 1), shipped_on=None, delivered_on=None, country="FR", currency="EUR"
    )
    decision = decide(policy(), facts, line(), date(2026, 11, 2))
    assert decision.status == "not_eligible"
    assert decision.refusal is not None and decision.refusal.rule_id == "not_delivered"


HOLIDAY = {
    "id": "holiday",
    "name": {"en": "Holiday returns", "fr": "Retours des fêtes"},
    "when": {"order_placed_between_month_days": ["11-15", "12-31"]},
    "then": {"return_until_month_day": "01-31"},
}


@pytest.mark.parametrize(
    ("placed", "delivered", "expected"),
    [
        (date(2025, 11, 15), date(2025, 11, 18), date(2026, 1, 31)),  # first day of the season
        (date(2025, 12, 31), date(2026, 1, 3), date(2026, 2, 2)),  # 30 days from delivery is later still
        (date(2025, 12, 20), date(2025, 12, 23), date(2026, 1, 31)),
        (date(2025, 11, 14), date(2025, 11, 17), date(2025, 12, 17)),  # the day before: normal window
    ],
)
def test_holiday_orders_are_returnable_until_31_january(placed: date, delivered: date, expected: date) -> None:
    decision = decide(policy(HOLIDAY), order(placed, delivered), line(), date(2025, 12, 1))
    assert decision.deadline == expected
    fired = [explanation.rule_id for explanation in decision.explanations]
    assert fired == (["holiday"] if date(2025, 11, 15) <= placed <= date(2025, 12, 31) else [])


def test_holiday_order_still_returnable_on_31_january_and_not_after() -> None:
    facts = order(date(2025, 11, 20), date(2025, 11, 24))
    assert decide(policy(HOLIDAY), facts, line(), date(2026, 1, 31)).status == "eligible"
    late = decide(policy(HOLIDAY), facts, line(), date(2026, 2, 1))
    assert late.status == "not_eligible"
    assert late.refusal is not None and late.refusal.en == "The return window closed on 31 January 2026."


def test_final_sale_item_is_refused_with_its_reason_in_both_languages() -> None:
    decision = decide(policy(), order(), line(is_final_sale=True), date(2026, 10, 10))
    assert decision.status == "not_eligible"
    assert decision.returnable_quantity == 0
    assert decision.refusal is not None
    assert decision.refusal.rule_id == "final-sale"
    assert decision.refusal.en.startswith("Final-sale items (such as engraved")
    assert decision.refusal.fr.startswith("Les articles en vente définitive")


DISCOUNTED = {
    "id": "sale-exchange",
    "name": {"en": "Sale items", "fr": "Articles soldés"},
    "when": {"is_discounted": True},
    "then": {"resolutions": ["exchange"]},
}


def test_discounted_items_are_exchange_only() -> None:
    discounted = decide(policy(DISCOUNTED), order(), line(is_discounted=True), date(2026, 10, 10))
    assert discounted.resolutions == ("exchange",)
    assert discounted.explanations[-1].en == "Sale items: offered: exchange."
    assert discounted.explanations[-1].fr == "Articles soldés : proposé : échange."
    full_price = decide(policy(DISCOUNTED), order(), line(), date(2026, 10, 10))
    assert full_price.resolutions == ("refund", "store_credit", "exchange")


VIP = {
    "id": "vip",
    "name": {"en": "VIP customers", "fr": "Clients VIP"},
    "when": {"customer_tags_any": ["vip"]},
    "then": {"window_days": 60},
}


def test_vip_customers_get_sixty_days() -> None:
    vip = order(customer_tags=frozenset({"vip"}))
    assert decide(policy(VIP), vip, line(), date(2026, 12, 4)).deadline == date(2026, 12, 4)
    assert decide(policy(VIP), vip, line(), date(2026, 12, 4)).status == "eligible"
    assert decide(policy(VIP), vip, line(), date(2026, 12, 5)).status == "not_eligible"
    assert decide(policy(VIP), order(), line(), date(2026, 11, 10)).status == "not_eligible"


def test_holiday_extension_never_shortens_a_vip_window() -> None:
    facts = order(date(2026, 12, 20), date(2026, 12, 22), customer_tags=frozenset({"vip"}))
    decision = decide(policy(VIP, HOLIDAY), facts, line(), date(2027, 1, 5))
    assert decision.deadline == date(2027, 2, 20)


RESTOCKING = {
    "id": "watch-fee",
    "name": {"en": "Watches", "fr": "Montres"},
    "when": {"categories": ["watches"]},
    "then": {"restocking_fee_percent": "15"},
}


def test_restocking_fee_applies_to_one_category_only() -> None:
    watch = decide(policy(RESTOCKING), order(), line(category="watches"), date(2026, 10, 10))
    ring = decide(policy(RESTOCKING), order(), line(), date(2026, 10, 10))
    assert watch.restocking_fee_percent == Decimal(15)
    assert ring.restocking_fee_percent == Decimal(0)
    assert watch.explanations[-1].en == "Watches: restocking fee of 15% per item."


def test_restocking_fee_is_waived_for_a_defective_item() -> None:
    decision = decide(
        policy(RESTOCKING),
        order(),
        line(category="watches", reason_codes=frozenset({"defective", "quality"})),
        date(2026, 10, 10),
    )
    assert decision.fees_waived is True
    assert decision.restocking_fee_percent == Decimal(0)
    assert decision.photos_required is True


HIGH_VALUE = {
    "id": "high-value",
    "name": {"en": "High value", "fr": "Forte valeur"},
    "when": {"unit_price_gte": 50000},
    "then": {"manual_review": True, "methods": ["home_pickup", "prepaid_label"]},
}


def test_high_value_returns_go_to_manual_review() -> None:
    expensive = decide(policy(HIGH_VALUE), order(), line(paid_amount=120000), date(2026, 10, 10))
    assert expensive.status == "needs_review"
    assert expensive.returnable_quantity == 1
    assert expensive.methods == ("home_pickup", "prepaid_label")
    assert expensive.explanations[-1].fr.startswith("Forte valeur : retour par enlèvement à domicile")
    cheap = decide(policy(HIGH_VALUE), order(), line(paid_amount=49999), date(2026, 10, 10))
    assert cheap.status == "eligible"


def test_unit_price_uses_the_price_paid_after_discount() -> None:
    # two units, 300.00 each, 200.00 discount on the line: 200.00 paid per unit
    decision = decide(
        policy(HIGH_VALUE),
        order(),
        line(quantity=2, paid_amount=40000, is_discounted=True),
        date(2026, 10, 10),
    )
    assert decision.status == "eligible"


def test_already_returned_units_are_not_returnable_again() -> None:
    decision = decide(policy(), order(), line(quantity=3, already_returned=2), date(2026, 10, 10))
    assert decision.returnable_quantity == 1
    all_gone = decide(policy(), order(), line(quantity=3, already_returned=3), date(2026, 10, 10))
    assert all_gone.status == "not_eligible"
    assert all_gone.refusal is not None and all_gone.refusal.rule_id == "already_returned"


def test_rules_without_a_reason_do_not_fire_before_a_reason_is_given() -> None:
    decision = decide(policy(), order(), line(), date(2026, 10, 10))
    assert [e.rule_id for e in decision.explanations] == []
    assert decision.photos_required is False


def test_deny_by_country_with_message() -> None:
    rule = {
        "id": "no-ch",
        "name": {"en": "Switzerland", "fr": "Suisse"},
        "when": {"countries": ["ch"]},
        "then": {
            "deny": True,
            "message": {
                "en": "Contact us for returns from Switzerland.",
                "fr": "Contactez-nous pour un retour depuis la Suisse.",
            },
        },
    }
    decision = decide(policy(rule), order(country="CH"), line(), date(2026, 10, 10))
    assert decision.status == "not_eligible"
    assert decision.refusal is not None and decision.refusal.fr == "Contactez-nous pour un retour depuis la Suisse."
    assert decide(policy(rule), order(), line(), date(2026, 10, 10)).status == "eligible"


def test_serial_returners_lose_the_free_label() -> None:
    rule = {
        "id": "serial",
        "name": {"en": "Frequent returns", "fr": "Retours fréquents"},
        "when": {"earlier_returns_gte": 5},
        "then": {"return_shipping_fee_amount": 590},
    }
    assert decide(policy(rule), order(earlier_returns=5), line(), date(2026, 10, 10)).return_shipping_fee_amount == 590
    assert decide(policy(rule), order(earlier_returns=4), line(), date(2026, 10, 10)).return_shipping_fee_amount == 0


def test_stop_ends_evaluation() -> None:
    first = {
        "id": "first",
        "name": {"en": "First", "fr": "Premier"},
        "when": {},
        "then": {"window_days": 10},
        "stop": True,
    }
    second = {
        "id": "second",
        "name": {"en": "Second", "fr": "Second"},
        "when": {},
        "then": {"window_days": 90},
    }
    decision = decide(PolicyDocument.model_validate({"rules": [first, second]}), order(), line(), date(2026, 10, 10))
    assert decision.deadline == date(2026, 10, 15)
    assert [e.rule_id for e in decision.explanations] == ["first"]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        (
            {"rules": [{"id": "x", "name": {"en": "a", "fr": "b"}, "when": {"skuz": ["A"]}, "then": {}}]},
            "rules.0.when.skuz",
        ),
        ({"rules": [{"id": "x", "name": {"en": "a", "fr": "b"}, "then": {"deny": True}}]}, "rules.0.then"),
        ({"defaults": {"window_days": -1}}, "defaults.window_days"),
        (
            {"rules": [{"id": "x", "name": {"en": "a", "fr": "b"}, "then": {"resolutions": ["cash"]}}]},
            "rules.0.then.resolutions.0",
        ),
    ],
)
def test_invalid_policies_are_refused_naming_the_field(document: dict[str, Any], field: str) -> None:
    from retour.kit.errors import InvalidInput
    from retour.policy.service import parse_document

    with pytest.raises(InvalidInput) as raised:
        parse_document(document)
    assert raised.value.field == field


# ---- Customer segments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "earlier_returns", "orders_count", "expected"),
    [
        (set(), 0, 1, {"new_customer"}),
        (set(), 0, 2, {"returning_customer"}),
        ({"VIP"}, 0, 1, {"vip", "new_customer"}),
        ({" vip ", "newsletter"}, 1, 8, {"vip", "returning_customer"}),
        ({"vip-gold"}, 0, 3, {"returning_customer"}),
        (set(), 3, 6, {"serial_returner", "returning_customer"}),
        (set(), 3, 7, {"returning_customer"}),
        (set(), 2, 2, {"returning_customer"}),
        (set(), 10, 100, {"returning_customer"}),
        ({"vip"}, 4, 5, {"vip", "serial_returner", "returning_customer"}),
        (set(), 3, None, {"serial_returner"}),
        (set(), 0, None, set()),
        ({"vip"}, 0, None, {"vip"}),
    ],
)
def test_customer_segments_come_from_tags_earlier_returns_and_orders(
    tags: set[str], earlier_returns: int, orders_count: int | None, expected: set[str]
) -> None:
    found = rules.customer_segments(tags=frozenset(tags), earlier_returns=earlier_returns, orders_count=orders_count)

    assert found == frozenset(expected)
    facts = order(customer_tags=frozenset(tags), earlier_returns=earlier_returns, orders_count=orders_count)
    assert facts.customer_segments == found


FIRST_ORDER = {
    "id": "first-order",
    "name": {"en": "First order", "fr": "Première commande"},
    "when": {"customer_segment_in": ["new_customer", "vip"]},
    "then": {"window_days": 60},
}
SERIAL = {
    "id": "serial",
    "name": {"en": "Frequent returns", "fr": "Retours fréquents"},
    "when": {"customer_segment_in": ["serial_returner"]},
    "then": {"return_shipping_fee_amount": 590, "manual_review": True},
}


@pytest.mark.parametrize(
    ("facts", "deadline", "fee", "status"),
    [
        ({"orders_count": 1}, date(2026, 12, 4), 0, "eligible"),
        ({"orders_count": 4}, date(2026, 11, 4), 0, "eligible"),
        ({"orders_count": 4, "customer_tags": frozenset({"vip"})}, date(2026, 12, 4), 0, "eligible"),
        ({"orders_count": 6, "earlier_returns": 3}, date(2026, 11, 4), 590, "needs_review"),
        ({"orders_count": 40, "earlier_returns": 3}, date(2026, 11, 4), 0, "eligible"),
        ({}, date(2026, 11, 4), 0, "eligible"),
    ],
)
def test_a_customer_segment_condition_fires_for_its_segments_only(
    facts: dict[str, Any], deadline: date, fee: int, status: str
) -> None:
    decision = decide(policy(FIRST_ORDER, SERIAL), order(**facts), line(), date(2026, 10, 10))

    assert (decision.deadline, decision.return_shipping_fee_amount, decision.status) == (deadline, fee, status)
    fired = {explanation.rule_id for explanation in decision.explanations}
    assert ("first-order" in fired) == (deadline == date(2026, 12, 4))
    assert ("serial" in fired) == (fee == 590)
    assert decision.review_rule_ids == (("serial",) if fee else ())


def test_the_rule_that_fired_for_a_segment_explains_itself_in_both_languages() -> None:
    decision = decide(policy(SERIAL), order(orders_count=3, earlier_returns=3), line(), date(2026, 10, 10))

    serial = next(explanation for explanation in decision.explanations if explanation.rule_id == "serial")
    assert serial.en == "Frequent returns: return shipping costs €5.90; reviewed by our team before approval."
    assert serial.fr == "Retours fréquents : frais de retour de 5,90\u00a0€; examiné par notre équipe avant validation."


def test_segments_are_described_in_english_and_french() -> None:
    assert set(rules.SEGMENT_LABELS) == set(ALL_SEGMENTS)
    assert rules.describe_segments(["vip"]) == ("VIP customers", "clients VIP")
    assert rules.describe_segments(["new_customer", "returning_customer", "serial_returner"]) == (
        "first-time customers, returning customers or customers who return often",
        "clients à leur première commande, clients ayant déjà commandé ou clients qui retournent souvent",
    )


@pytest.mark.parametrize(
    ("when", "field"),
    [
        ({"customer_segment_in": ["gold"]}, "rules.0.when.customer_segment_in.0"),
        ({"customer_segment_in": []}, "rules.0.when.customer_segment_in"),
        ({"customer_segment_in": "vip"}, "rules.0.when.customer_segment_in"),
        ({"customer_segments_in": ["vip"]}, "rules.0.when.customer_segments_in"),
    ],
)
def test_a_bad_segment_condition_is_refused_naming_the_field(when: dict[str, Any], field: str) -> None:
    from retour.kit.errors import InvalidInput
    from retour.policy.service import parse_document

    with pytest.raises(InvalidInput) as raised:
        parse_document({"rules": [{"id": "x", "name": {"en": "a", "fr": "b"}, "when": when, "then": {}}]})
    assert raised.value.field == field


def test_a_policy_stored_before_segments_existed_reads_the_same() -> None:
    stored = PolicyDocument.model_validate(DEFAULT_POLICY).model_dump(mode="json")
    for rule in stored["rules"]:
        del rule["when"]["customer_segment_in"]

    document = PolicyDocument.model_validate(stored)

    assert document == PolicyDocument.model_validate(DEFAULT_POLICY)
    assert all(rule.when.customer_segment_in is None for rule in document.rules)
    dumped = document.model_dump(mode="json")
    assert [rule["when"]["customer_segment_in"] for rule in dumped["rules"]] == [None] * len(document.rules)
