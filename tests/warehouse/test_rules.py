"""Pure warehouse decisions: scanning, parcel outcomes, checklists, inspection, dispositions,
restock routing, the stock ledger's arithmetic and resale pricing. No database."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from retour.inventory import rules as inventory_rules
from retour.kit.money import Money
from retour.receiving import rules
from retour.receiving.rules import ChecklistItem, DispositionRule, Explanation, ScanCode, WarehouseRefusal
from retour.resale import rules as resale_rules

JEWELRY_OK = {"authenticity": True, "stone_setting": True, "clasp": True, "metal": True}
APPAREL_OK = {"tags_attached": True, "worn": False, "odour": False, "stains": False}


# --- scanning -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("R-000123", ScanCode("R-000123", None)),
        ("  r-000123\n", ScanCode("R-000123", None)),
        ("R000123", ScanCode("R-000123", None)),
        ("R-42", ScanCode("R-000042", None)),
        ("RETOUR;RMA=R-000007;TRK=RT000010000007018", ScanCode("R-000007", "RT000010000007018")),
        ("RETOUR;RMA=R-000007", ScanCode("R-000007", None)),
        ("6A12345678901", ScanCode(None, "6A12345678901")),
        ("1z999aa10123456784", ScanCode(None, "1Z999AA10123456784")),
        ("", ScanCode(None, None)),
    ],
)
def test_parse_scan_reads_rma_numbers_qr_payloads_and_tracking_numbers(code: str, expected: ScanCode) -> None:
    assert rules.parse_scan(code) == expected


# --- receiving ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "unexpected", "outcome"),
    [
        ({1: 2, 2: 1}, 0, "as_expected"),
        ({1: 1}, 0, "partial"),
        ({}, 0, "empty_box"),
        ({}, 1, "wrong_item"),
        ({1: 2, 2: 1}, 1, "unexpected_items"),
    ],
)
def test_receipt_outcome_is_derived_from_what_arrived(received: dict[int, int], unexpected: int, outcome: str) -> None:
    assert rules.evaluate_receipt({1: 2, 2: 1}, received, unexpected, None) == outcome


def test_a_declared_outcome_is_kept_when_the_counts_allow_it() -> None:
    assert rules.evaluate_receipt({1: 2}, {1: 1}, 1, "partial") == "partial"
    assert rules.evaluate_receipt({1: 2}, {}, 0, "wrong_item") == "wrong_item"


@pytest.mark.parametrize(
    ("received", "unexpected", "declared"),
    [({1: 1}, 0, "empty_box"), ({1: 1}, 0, "as_expected"), ({1: 2}, 0, "partial"), ({}, 0, "unexpected_items")],
)
def test_a_declared_outcome_contradicting_the_counts_is_refused(
    received: dict[int, int], unexpected: int, declared: str
) -> None:
    with pytest.raises(WarehouseRefusal) as refused:
        rules.evaluate_receipt({1: 2}, received, unexpected, declared)
    assert (refused.value.field, refused.value.code) == ("outcome", "outcome_contradicts_lines")


# --- checklists -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "name", "codes"),
    [
        ("rings", "jewelry", ["authenticity", "weight", "stone_setting", "clasp", "metal"]),
        ("Necklaces", "jewelry", ["authenticity", "weight", "stone_setting", "clasp", "metal"]),
        ("electronics", "electronics", ["powers_on", "tested", "factory_reset", "accessories"]),
        ("dresses", "apparel", ["tags_attached", "worn", "odour", "stains"]),
        ("candles", "default", ["matches_order", "complete"]),
        ("", "default", ["matches_order", "complete"]),
    ],
)
def test_default_checklist_per_category(category: str, name: str, codes: list[str]) -> None:
    checklist = rules.checklist_for(category)
    assert (checklist.name, [item.code for item in checklist.items], checklist.is_shop_override) == (
        name,
        codes,
        False,
    )


def test_shop_checklist_overrides_the_category_then_the_family() -> None:
    engraving = (ChecklistItem("engraving", "Engraving intact", "Gravure intacte"),)
    own = (ChecklistItem("box", "Box present", "Boîte présente"),)
    overrides = {"Rings": engraving, "jewelry": own}
    assert rules.checklist_for("rings", overrides) == rules.Checklist("rings", engraving, is_shop_override=True)
    assert rules.checklist_for("bracelets", overrides) == rules.Checklist("jewelry", own, is_shop_override=True)
    assert rules.checklist_for("dresses", overrides).name == "apparel"


def test_checklist_items_round_trip_through_json() -> None:
    for item in rules.DEFAULT_CHECKLISTS["apparel"]:
        assert ChecklistItem.from_dict(item.as_dict()) == item


# --- inspection -----------------------------------------------------------------------------------


def inspect(
    category: str, answers: dict[str, bool], grade: str = "new", **weights: str | None
) -> rules.InspectionResult:
    measured, expected = weights.get("measured"), weights.get("expected")
    return rules.evaluate_inspection(
        rules.checklist_for(category),
        answers,
        grade,
        Decimal(measured) if measured is not None else None,
        Decimal(expected) if expected is not None else None,
    )


def test_a_ring_in_order_on_the_scale_is_accepted() -> None:
    result = inspect("rings", JEWELRY_OK, measured="3.05", expected="3")
    assert result == rules.InspectionResult(
        True,
        None,
        (),
        rules.WeightCheck(Decimal(3), Decimal("3.05"), Decimal("0.2"), "within_tolerance"),
    )


@pytest.mark.parametrize(
    ("measured", "expected", "tolerance", "status"),
    [
        ("3.2", "3", "0.2", "within_tolerance"),  # 3 % of 3 g is 0.09 g: the 0.2 g floor applies
        ("3.21", "3", "0.2", "too_heavy"),
        ("2.79", "3", "0.2", "too_light"),
        ("2.39", "3", "0.2", "much_lighter"),  # under 80 % of the catalogue weight
        ("2.4", "3", "0.2", "too_light"),
        ("20.6", "20", "0.60", "within_tolerance"),  # 3 % of 20 g is 0.6 g: larger than the floor
        ("20.61", "20", "0.60", "too_heavy"),
    ],
)
def test_weight_tolerance_is_three_percent_or_two_decigrams_whichever_is_larger(
    measured: str, expected: str, tolerance: str, status: str
) -> None:
    check = rules.check_weight(Decimal(measured), Decimal(expected))
    assert (check.tolerance_grams, check.status) == (Decimal(tolerance), status)


def test_a_much_lighter_ring_is_rejected_as_a_possible_substitution() -> None:
    result = inspect("rings", JEWELRY_OK, measured="1.2", expected="3")
    assert not result.accepted
    assert result.reason == Explanation(
        "weight_much_lighter",
        "The item weighs 1.20 g instead of 3.00 g: it may be a substitute or an empty case.",
        "L'article pèse 1.20 g au lieu de 3.00 g : il pourrait s'agir d'une substitution ou d'un écrin vide.",
    )


def test_a_ring_slightly_out_of_tolerance_is_rejected_with_the_numbers() -> None:
    result = inspect("rings", JEWELRY_OK, measured="3.5", expected="3")
    assert result.reason == Explanation(
        "weight_too_heavy",
        "The item weighs 3.50 g; the piece we sold weighs 3.00 g (± 0.20 g).",
        "L'article pèse 3.50 g ; la pièce vendue pèse 3.00 g (± 0.20 g).",
    )


def test_jewelry_without_a_catalogue_weight_is_accepted_with_a_note() -> None:
    result = inspect("rings", JEWELRY_OK, measured="3", expected=None)
    assert (result.accepted, result.weight, [note.rule_id for note in result.notes]) == (
        True,
        None,
        ["weight_not_checked"],
    )


def test_jewelry_with_a_catalogue_weight_must_be_weighed() -> None:
    with pytest.raises(WarehouseRefusal) as refused:
        inspect("rings", JEWELRY_OK, measured=None, expected="3")
    assert (refused.value.field, refused.value.code) == ("measured_weight_grams", "weight_required")


def test_a_failed_authenticity_check_rejects_before_the_weight() -> None:
    result = inspect("rings", {**JEWELRY_OK, "authenticity": False}, measured="1", expected="3")
    assert (result.accepted, result.reason and result.reason.rule_id) == (False, "checklist_authenticity")
    assert result.reason and result.reason.fr.startswith("La pièce retournée ne correspond pas")


def test_a_loose_clasp_is_a_finding_not_a_rejection() -> None:
    result = inspect("rings", {**JEWELRY_OK, "clasp": False}, grade="lightly_damaged", measured="3", expected="3")
    assert result.accepted
    assert result.findings == (
        rules.Finding(
            "clasp", "Not in order: Clasp closes and holds", "Non conforme : Le fermoir ferme et tient", False
        ),
    )


def test_worn_apparel_is_rejected_with_the_reason_for_the_customer() -> None:
    result = inspect("dresses", {**APPAREL_OK, "worn": True, "odour": True})
    assert not result.accepted
    assert result.reason == Explanation("checklist_worn", "The item has been worn.", "L'article a été porté.")
    assert [(f.code, f.rejects) for f in result.findings] == [("worn", True), ("odour", True)]


@pytest.mark.parametrize(("grade", "rule_id"), [("wrong_item", "grade_wrong_item"), ("missing", "grade_missing")])
def test_wrong_item_and_missing_grades_always_reject(grade: str, rule_id: str) -> None:
    result = inspect("rings", {}, grade=grade)
    assert (result.accepted, result.reason and result.reason.rule_id) == (False, rule_id)


def test_unanswered_and_unknown_checklist_items_are_refused_by_name() -> None:
    with pytest.raises(WarehouseRefusal) as missing:
        inspect("dresses", {"tags_attached": True, "worn": False, "odour": False})
    assert (missing.value.field, missing.value.code) == ("answers.stains", "checklist_incomplete")
    with pytest.raises(WarehouseRefusal) as unknown:
        inspect("dresses", {**APPAREL_OK, "sparkles": True})
    assert (unknown.value.field, unknown.value.code) == ("answers.sparkles", "unknown_checklist_item")
    with pytest.raises(WarehouseRefusal) as grade:
        inspect("dresses", APPAREL_OK, grade="shiny")
    assert grade.value.code == "unknown_grade"


# --- dispositions ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grade", "reason", "category", "disposition", "rule_id"),
    [
        ("new", "too_small", "rings", "restock", "wrong_size_new_restock"),
        ("new", "changed_mind", "rings", "restock", "new_restock"),
        ("open_box", "changed_mind", "electronics", "repackage_and_restock", "open_box_repackage"),
        ("defective", "defective", "electronics", "return_to_vendor", "defective_return_to_vendor"),
        ("heavily_damaged", "damaged", "necklaces", "repair", "damaged_jewelry_repair"),
        ("heavily_damaged", "damaged", "dresses", "recycle", "heavily_damaged_recycle"),
        ("lightly_damaged", "changed_mind", "rings", "resell_second_hand", "lightly_damaged_resell"),
        ("used", "changed_mind", "dresses", "resell_second_hand", "used_resell"),
        ("wrong_item", "too_small", "rings", "quarantine", "rejected_quarantine"),
        ("missing", "too_small", "rings", "quarantine", "rejected_quarantine"),
    ],
)
def test_default_dispositions(grade: str, reason: str, category: str, disposition: str, rule_id: str) -> None:
    accepted = grade not in ("wrong_item", "missing")
    decided, why = rules.evaluate_disposition(grade, reason, category, accepted=accepted)
    assert (decided, why.rule_id) == (disposition, rule_id)
    assert why.en and why.fr


def test_a_rejected_unit_goes_to_quarantine_whatever_its_grade() -> None:
    decided, why = rules.evaluate_disposition("new", "too_small", "dresses", accepted=False)
    assert (decided, why.rule_id) == ("quarantine", "rejected_quarantine")


def test_shop_rules_come_first_and_match_on_family_and_reason() -> None:
    donate = DispositionRule.from_dict(
        {"id": "donate-worn-clothes", "when": {"grades": ["used"], "categories": ["apparel"]}, "then": "donate"}
    )
    rings_to_workshop = DispositionRule.from_dict(
        {"id": "ring-resize", "when": {"reasons": ["too_small"], "categories": ["Rings"]}, "then": "repair"}
    )
    shop = [donate, rings_to_workshop]
    assert rules.evaluate_disposition("used", "changed_mind", "dresses", shop) == (
        "donate",
        Explanation(
            "shop:donate-worn-clothes",
            "Shop rule 'donate-worn-clothes': donate.",
            "Règle de la boutique « donate-worn-clothes » : don.",
        ),
    )
    assert rules.evaluate_disposition("new", "too_small", "rings", shop)[0] == "repair"
    assert rules.evaluate_disposition("new", "too_large", "rings", shop)[0] == "restock"


def test_a_shop_rule_cannot_put_a_rejected_unit_back_on_sale() -> None:
    everything_back = DispositionRule("all-back", "restock")
    decided, why = rules.evaluate_disposition("new", "too_small", "rings", [everything_back], accepted=False)
    assert (decided, why.rule_id) == ("quarantine", "rejected_quarantine")


# --- restock routing ------------------------------------------------------------------------------


def test_restock_goes_where_recent_sales_minus_stock_is_highest() -> None:
    choice = inventory_rules.choose_restock_location(
        "RING-GOLD-52",
        ["PARIS", "LYON", "BRUXELLES"],
        recent_sales_by_location={"PARIS": 5, "LYON": 4},
        on_hand_by_location={"PARIS": 4, "LYON": 0, "BRUXELLES": 0},
    )
    assert (choice.location, choice.rule_id, choice.scores) == (
        "LYON",
        "highest_demand",
        (("PARIS", 1), ("LYON", 4), ("BRUXELLES", 0)),
    )
    assert choice.en == "LYON has the highest demand for RING-GOLD-52: 4 recent sale(s) for 0 unit(s) in stock."


def test_restock_ties_go_to_the_first_location_in_the_given_order() -> None:
    choice = inventory_rules.choose_restock_location("SKU", ["PARIS", "LYON"], {}, {})
    assert (choice.location, choice.rule_id) == ("PARIS", "demand_tie")
    partial_tie = inventory_rules.choose_restock_location("SKU", ["A", "B", "C"], {"B": 2, "C": 2}, {})
    assert (partial_tie.location, partial_tie.rule_id) == ("B", "highest_demand")


def test_a_fixed_location_wins_over_demand_and_no_location_is_an_error() -> None:
    choice = inventory_rules.choose_restock_location("SKU", ["PARIS", "LYON"], {"LYON": 9}, {}, fixed_location="PARIS")
    assert (choice.location, choice.rule_id) == ("PARIS", "fixed_location")
    unknown_fixed = inventory_rules.choose_restock_location("SKU", ["PARIS", "LYON"], {"LYON": 9}, {}, "GONE")
    assert unknown_fixed.location == "LYON"
    with pytest.raises(inventory_rules.NoLocation):
        inventory_rules.choose_restock_location("SKU", [], {}, {})


def test_movement_signs_and_refusals() -> None:
    assert [inventory_rules.signed_quantity(kind, 2) for kind in inventory_rules.KINDS] == [2, -2, 2, -2, -2]
    assert inventory_rules.apply_movement(3, "sale", 3) == 0
    with pytest.raises(inventory_rules.InsufficientStock) as refused:
        inventory_rules.apply_movement(1, "write_off", 2)
    assert (refused.value.on_hand, refused.value.wanted) == (1, 2)
    with pytest.raises(ValueError, match="at least one unit"):
        inventory_rules.signed_quantity("restock", 0)


@given(st.lists(st.tuples(st.sampled_from(inventory_rules.KINDS), st.integers(min_value=1, max_value=5)), max_size=60))
def test_the_ledger_never_goes_negative_and_equals_the_sum_of_accepted_movements(
    operations: list[tuple[str, int]],
) -> None:
    ledger: list[int] = []
    on_hand = 0
    for kind, quantity in operations:
        try:
            on_hand = inventory_rules.apply_movement(on_hand, kind, quantity)
        except inventory_rules.InsufficientStock as refused:
            assert kind not in inventory_rules.INBOUND and quantity > on_hand == refused.on_hand
            continue
        ledger.append(inventory_rules.signed_quantity(kind, quantity))
        assert on_hand >= 0
        assert on_hand == sum(ledger)


# --- resale ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("grade", "price", "percent"),
    [("open_box", 10965, 15), ("used", 9030, 30), ("lightly_damaged", 7095, 45), ("new", 11610, 10)],
)
def test_resale_price_is_the_original_minus_the_grade_discount(grade: str, price: int, percent: int) -> None:
    listed = resale_rules.price_listing(Money(12900, "EUR"), grade)
    assert (listed.price, listed.discount_percent) == (Money(price, "EUR"), Decimal(percent))


def test_shop_discounts_replace_defaults_grade_by_grade_and_round_half_even() -> None:
    listed = resale_rules.price_listing(Money(999, "EUR"), "used", {"used": Decimal("12.5")})
    assert listed.price == Money(874, "EUR")  # 999 × 12.5 % = 124.875 → 125 off
    assert resale_rules.price_listing(Money(1000, "JPY"), "open_box", {"used": Decimal(1)}).price == Money(850, "JPY")


def test_missing_or_wrong_items_cannot_be_listed() -> None:
    with pytest.raises(resale_rules.NotResellable):
        resale_rules.price_listing(Money(1000, "EUR"), "missing")
    with pytest.raises(resale_rules.NotResellable):
        resale_rules.describe_listing("wrong_item", "", "en")


def test_listing_description_says_why_it_is_discounted_in_both_languages() -> None:
    notes = "Small scratch\n on the band."
    assert resale_rules.describe_listing("lightly_damaged", notes, "en", discount_percent=Decimal(45)) == (
        "Second-hand item from a customer return. Has small visible flaws, described below. "
        "Inspection notes: Small scratch on the band. Priced 45% below the original price."
    )
    assert resale_rules.describe_listing("used", "", "fr", discount_percent=Decimal("12.50")) == (
        "Article de seconde main, issu d'un retour client. Porté ou utilisé avant d'être retourné : il peut "
        "présenter de légères traces d'usage. Prix réduit de 12.5 % par rapport au prix d'origine."
    )
