"""Pure warehouse decisions: what a scanned code means, what a parcel's outcome is, which checklist
a unit is inspected with, whether it is accepted, and what should happen to it (its disposition).

No I/O, no ORM. Every decision says which rule fired and why, in English and French.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, cast

Grade = Literal["new", "open_box", "used", "lightly_damaged", "heavily_damaged", "defective", "wrong_item", "missing"]
Disposition = Literal[
    "restock",
    "repackage_and_restock",
    "refurbish",
    "repair",
    "resell_second_hand",
    "liquidate",
    "donate",
    "recycle",
    "destroy",
    "return_to_vendor",
    "quarantine",
]
Outcome = Literal["as_expected", "partial", "empty_box", "wrong_item", "unexpected_items"]
ItemKind = Literal["check", "weight"]
Failure = Literal["reject", "note"]

GRADES: tuple[Grade, ...] = (
    "new",
    "open_box",
    "used",
    "lightly_damaged",
    "heavily_damaged",
    "defective",
    "wrong_item",
    "missing",
)
DISPOSITIONS: tuple[Disposition, ...] = (
    "restock",
    "repackage_and_restock",
    "refurbish",
    "repair",
    "resell_second_hand",
    "liquidate",
    "donate",
    "recycle",
    "destroy",
    "return_to_vendor",
    "quarantine",
)
OUTCOMES: tuple[Outcome, ...] = ("as_expected", "partial", "empty_box", "wrong_item", "unexpected_items")
RESTOCKING: frozenset[str] = frozenset({"restock", "repackage_and_restock"})
"""Dispositions that put the unit back into sellable stock."""
WORKSHOP: frozenset[str] = frozenset({"repair", "refurbish"})
"""Dispositions that send the unit to a queue from which it comes back to a final disposition."""
NEEDS_ACCEPTED: frozenset[str] = RESTOCKING | {"resell_second_hand"}
"""A rejected unit is not the shop's to sell: it cannot go back to stock or to the second-hand channel."""
FAMILIES: dict[str, frozenset[str]] = {
    "jewelry": frozenset(
        {"jewelry", "jewellery", "bijoux", "bijou", "rings", "ring", "bagues", "necklaces", "necklace", "colliers"}
        | {"earrings", "boucles d'oreilles", "bracelets", "bracelet", "pendants", "pendentifs", "brooches"}
    ),
    "electronics": frozenset({"electronics", "électronique", "phones", "audio", "computers", "cameras", "gadgets"}),
    "apparel": frozenset(
        {"apparel", "clothing", "vêtements", "tops", "dresses", "trousers", "shirts", "knitwear", "coats"}
    ),
}
SIZE_REASONS: frozenset[str] = frozenset({"size", "too_small", "too_large"})


@dataclass(frozen=True)
class Explanation:
    """Which rule decided, and why, in both languages."""

    rule_id: str
    en: str
    fr: str

    def as_dict(self) -> dict[str, str]:
        return {"rule_id": self.rule_id, "en": self.en, "fr": self.fr}


class WarehouseRefusal(Exception):
    """An input the warehouse rules cannot accept; ``field`` names what to fix."""

    def __init__(self, field: str, code: str, en: str, fr: str) -> None:
        super().__init__(en)
        self.field = field
        self.code = code
        self.en = en
        self.fr = fr


def category_family(category: str) -> str | None:
    """``jewelry``, ``electronics`` or ``apparel`` for a shop category (``rings`` is jewelry), else None."""
    name = category.strip().lower()
    return next((family for family, names in FAMILIES.items() if name in names), None)


# --- scanning -------------------------------------------------------------------------------------

_RMA = re.compile(r"^R-?(\d{1,12})$")
QR_PREFIX = "RETOUR"


@dataclass(frozen=True)
class ScanCode:
    """What a scanned code points at: an RMA number, a tracking number, or both (the label's QR code)."""

    rma_number: str | None
    tracking_number: str | None


def parse_scan(code: str) -> ScanCode:
    """Read what the scanner typed: the label's Code 128 (the RMA number, ``R-000123``), its QR code
    (``RETOUR;RMA=R-000123;TRK=...``) or a carrier's tracking number. A scanner that drops the
    dash (``R000123``) still finds the return."""
    text = code.strip()
    if text.upper().startswith(QR_PREFIX + ";"):
        fields = dict(part.split("=", 1) for part in text.split(";")[1:] if "=" in part)
        rma = fields.get("RMA")
        tracking = fields.get("TRK") or None
        return ScanCode(normalize_rma(rma) if rma else None, tracking.strip().upper() if tracking else None)
    rma = normalize_rma(text)
    if rma is not None:
        return ScanCode(rma, None)
    return ScanCode(None, text.upper() or None)


def normalize_rma(text: str) -> str | None:
    match = _RMA.match(text.strip().upper())
    return f"R-{int(match.group(1)):06d}" if match else None


# --- receiving ------------------------------------------------------------------------------------


def evaluate_receipt(
    remaining: Mapping[int, int], received: Mapping[int, int], unexpected_units: int, declared: str | None
) -> Outcome:
    """The outcome of a parcel from what arrived against what was still expected per return line.
    Without ``declared`` it is derived; a declared outcome that contradicts the counts is refused."""
    got = sum(received.values())
    complete = all(received.get(line_id, 0) >= left for line_id, left in remaining.items())
    if got == 0 and unexpected_units == 0:
        derived: Outcome = "empty_box"
    elif got == 0:
        derived = "wrong_item"
    elif unexpected_units:
        derived = "unexpected_items"
    elif complete:
        derived = "as_expected"
    else:
        derived = "partial"
    if declared is None or declared == derived:
        return derived
    allowed = {
        "empty_box": got == 0 and unexpected_units == 0,
        "wrong_item": got == 0,
        "unexpected_items": unexpected_units > 0,
        "partial": got > 0 and not complete,
        "as_expected": complete and got > 0 and unexpected_units == 0,
    }
    if allowed.get(declared):
        return cast(Outcome, declared)
    raise WarehouseRefusal(
        "outcome",
        "outcome_contradicts_lines",
        f"the parcel cannot be '{declared}' with what was recorded in it (it looks like '{derived}')",
        f"le colis ne peut pas être « {declared} » avec ce qui a été saisi (il semble « {derived} »)",
    )


# --- checklists -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChecklistItem:
    """One question of an inspection checklist. ``passing`` is the answer of a unit in order;
    a ``reject`` item that fails refuses the unit with ``rejection_en``/``rejection_fr``."""

    code: str
    en: str
    fr: str
    kind: ItemKind = "check"
    passing: bool = True
    failure: Failure = "note"
    rejection_en: str = ""
    rejection_fr: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "en": self.en,
            "fr": self.fr,
            "kind": self.kind,
            "passing": self.passing,
            "failure": self.failure,
            "rejection_en": self.rejection_en,
            "rejection_fr": self.rejection_fr,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ChecklistItem:
        return cls(
            code=str(raw["code"]),
            en=str(raw["en"]),
            fr=str(raw["fr"]),
            kind=raw.get("kind", "check"),
            passing=bool(raw.get("passing", True)),
            failure=raw.get("failure", "note"),
            rejection_en=str(raw.get("rejection_en", "")),
            rejection_fr=str(raw.get("rejection_fr", "")),
        )


@dataclass(frozen=True)
class Checklist:
    name: str
    """The category (or family) the checklist is for, or ``default``."""
    items: tuple[ChecklistItem, ...]
    is_shop_override: bool = False


def _reject(code: str, en: str, fr: str, rejection_en: str, rejection_fr: str, passing: bool = True) -> ChecklistItem:
    return ChecklistItem(
        code, en, fr, passing=passing, failure="reject", rejection_en=rejection_en, rejection_fr=rejection_fr
    )


WEIGHT_ITEM = ChecklistItem(
    "weight",
    "Weight on the precision scale matches the catalogue",
    "Le poids sur la balance de précision correspond au catalogue",
    kind="weight",
    failure="reject",
)
DEFAULT_CHECKLISTS: dict[str, tuple[ChecklistItem, ...]] = {
    "jewelry": (
        _reject(
            "authenticity",
            "Matches the sale record (reference, hallmark, stones)",
            "Conforme à la fiche de vente (référence, poinçon, pierres)",
            "The piece returned does not match the one we sold (reference, hallmark or stones differ).",
            "La pièce retournée ne correspond pas à celle vendue (référence, poinçon ou pierres différents).",
        ),
        WEIGHT_ITEM,
        ChecklistItem("stone_setting", "Stones firmly set, none missing", "Pierres bien serties, aucune manquante"),
        ChecklistItem("clasp", "Clasp closes and holds", "Le fermoir ferme et tient"),
        ChecklistItem("metal", "Metal free of scratches, dents or tarnish", "Métal sans rayure, choc ni oxydation"),
    ),
    "electronics": (
        ChecklistItem("powers_on", "Powers on", "S'allume"),
        ChecklistItem("tested", "Every function tested and working", "Toutes les fonctions testées et opérationnelles"),
        ChecklistItem(
            "factory_reset", "Factory reset done, no personal data left", "Remis à zéro, aucune donnée personnelle"
        ),
        ChecklistItem("accessories", "All accessories and cables present", "Tous les accessoires et câbles présents"),
    ),
    "apparel": (
        _reject(
            "tags_attached",
            "Original tags attached",
            "Étiquettes d'origine attachées",
            "The original tags were removed.",
            "Les étiquettes d'origine ont été retirées.",
        ),
        _reject(
            "worn",
            "Shows signs of having been worn",
            "Présente des signes de port",
            "The item has been worn.",
            "L'article a été porté.",
            passing=False,
        ),
        _reject(
            "odour",
            "Smells of perfume, smoke or washing",
            "Odeur de parfum, de tabac ou de lessive",
            "The item carries an odour (perfume, smoke or washing).",
            "L'article présente une odeur (parfum, tabac ou lessive).",
            passing=False,
        ),
        _reject(
            "stains",
            "Stains or marks",
            "Taches ou marques",
            "The item is stained.",
            "L'article est taché.",
            passing=False,
        ),
    ),
    "default": (
        _reject(
            "matches_order",
            "The product ordered (reference, colour, size)",
            "Le produit commandé (référence, couleur, taille)",
            "The item returned is not the one that was ordered.",
            "L'article retourné n'est pas celui qui a été commandé.",
        ),
        ChecklistItem("complete", "Complete, with packaging and accessories", "Complet, avec emballage et accessoires"),
    ),
}


def checklist_for(category: str, overrides: Mapping[str, Sequence[ChecklistItem]] | None = None) -> Checklist:
    """The checklist a unit of ``category`` is inspected with: the shop's own for that category,
    else the shop's own for its family (``jewelry`` covers ``rings``), else the default of the
    family, else the general one."""
    overrides = {name.strip().lower(): items for name, items in (overrides or {}).items()}
    name = category.strip().lower()
    family = category_family(category)
    for key in (name, family):
        if key and key in overrides:
            return Checklist(key, tuple(overrides[key]), is_shop_override=True)
    if family:
        return Checklist(family, DEFAULT_CHECKLISTS[family])
    return Checklist("default", DEFAULT_CHECKLISTS["default"])


# --- inspection -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightTolerance:
    """Within ± max(``percent`` % of the catalogue weight, ``minimum_grams``); below
    ``substitution_share`` of it, the unit is suspected of being a substitute or an empty case."""

    percent: Decimal = Decimal(3)
    minimum_grams: Decimal = Decimal("0.2")
    substitution_share: Decimal = Decimal("0.8")


WeightStatus = Literal["within_tolerance", "too_heavy", "too_light", "much_lighter"]


@dataclass(frozen=True)
class WeightCheck:
    expected_grams: Decimal
    measured_grams: Decimal
    tolerance_grams: Decimal
    status: WeightStatus

    @property
    def passed(self) -> bool:
        return self.status == "within_tolerance"


def check_weight(
    measured_grams: Decimal, expected_grams: Decimal, tolerance: WeightTolerance | None = None
) -> WeightCheck:
    tolerance = tolerance or WeightTolerance()
    allowed = max(expected_grams * tolerance.percent / 100, tolerance.minimum_grams)
    difference = measured_grams - expected_grams
    status: WeightStatus
    if abs(difference) <= allowed:
        status = "within_tolerance"
    elif difference > 0:
        status = "too_heavy"
    elif measured_grams < expected_grams * tolerance.substitution_share:
        status = "much_lighter"
    else:
        status = "too_light"
    return WeightCheck(expected_grams, measured_grams, allowed, status)


@dataclass(frozen=True)
class Finding:
    """A checklist item whose answer was not the passing one."""

    code: str
    en: str
    fr: str
    rejects: bool


@dataclass(frozen=True)
class InspectionResult:
    accepted: bool
    reason: Explanation | None
    """Why the unit was rejected, for the customer; None when accepted."""
    findings: tuple[Finding, ...] = ()
    weight: WeightCheck | None = None
    notes: tuple[Explanation, ...] = field(default_factory=tuple)
    """Remarks that did not decide anything (weight not checked because the catalogue has none...)."""


_GRADE_REJECTIONS: dict[str, Explanation] = {
    "wrong_item": Explanation(
        "grade_wrong_item",
        "The item we received is not the one we sold.",
        "L'article reçu n'est pas celui que nous avons vendu.",
    ),
    "missing": Explanation(
        "grade_missing",
        "The item was not in the parcel.",
        "L'article ne se trouvait pas dans le colis.",
    ),
}


def evaluate_inspection(
    checklist: Checklist,
    answers: Mapping[str, bool],
    grade: str,
    measured_weight_grams: Decimal | None,
    expected_weight_grams: Decimal | None,
    *,
    tolerance: WeightTolerance | None = None,
) -> InspectionResult:
    """Accept or reject one unit from its grade and its checklist answers. ``wrong_item`` and
    ``missing`` always reject; a failed ``reject`` item rejects with its reason (the first one in
    checklist order is the one the customer reads); a weight out of tolerance rejects, and one far
    below the catalogue weight says it may be a substitute or an empty case. Other failed items are
    findings that inform the grade and the disposition but do not refuse the return."""
    if grade not in GRADES:
        raise WarehouseRefusal("grade", "unknown_grade", f"unknown grade '{grade}'", f"état inconnu « {grade} »")
    if grade in _GRADE_REJECTIONS:
        return InspectionResult(False, _GRADE_REJECTIONS[grade])
    _check_answers(checklist, answers)
    weight, notes = _weigh(checklist, measured_weight_grams, expected_weight_grams, tolerance)
    findings = [
        Finding(
            item.code,
            item.rejection_en or f"Not in order: {item.en}",
            item.rejection_fr or f"Non conforme : {item.fr}",
            item.failure == "reject",
        )
        for item in checklist.items
        if item.kind == "check" and answers[item.code] != item.passing
    ]
    rejection = next((Explanation(f"checklist_{f.code}", f.en, f.fr) for f in findings if f.rejects), None)
    if rejection is None and weight is not None and not weight.passed:
        rejection = _weight_rejection(weight)
    return InspectionResult(rejection is None, rejection, tuple(findings), weight, tuple(notes))


def _check_answers(checklist: Checklist, answers: Mapping[str, bool]) -> None:
    codes = {item.code for item in checklist.items if item.kind == "check"}
    for code in answers:
        if code not in codes:
            raise WarehouseRefusal(
                f"answers.{code}",
                "unknown_checklist_item",
                f"'{code}' is not on this unit's checklist",
                f"« {code} » ne figure pas dans la liste de contrôle de cet article",
            )
    for item in checklist.items:
        if item.kind == "check" and item.code not in answers:
            raise WarehouseRefusal(
                f"answers.{item.code}",
                "checklist_incomplete",
                f"answer '{item.en}'",
                f"répondez à « {item.fr} »",
            )


def _weigh(
    checklist: Checklist,
    measured: Decimal | None,
    expected: Decimal | None,
    tolerance: WeightTolerance | None,
) -> tuple[WeightCheck | None, list[Explanation]]:
    if not any(item.kind == "weight" for item in checklist.items):
        return None, []
    if expected is None or expected <= 0:
        note = Explanation(
            "weight_not_checked",
            "Weight not checked: the catalogue has no weight for this item.",
            "Poids non contrôlé : le catalogue n'indique pas de poids pour cet article.",
        )
        return None, [note]
    if measured is None:
        raise WarehouseRefusal(
            "measured_weight_grams",
            "weight_required",
            "weigh the unit on the precision scale",
            "pesez l'article sur la balance de précision",
        )
    return check_weight(measured, expected, tolerance), []


def _weight_rejection(weight: WeightCheck) -> Explanation:
    measured, expected = _grams(weight.measured_grams), _grams(weight.expected_grams)
    if weight.status == "much_lighter":
        return Explanation(
            "weight_much_lighter",
            f"The item weighs {measured} g instead of {expected} g: it may be a substitute or an empty case.",
            f"L'article pèse {measured} g au lieu de {expected} g : il pourrait s'agir d'une substitution "
            "ou d'un écrin vide.",
        )
    return Explanation(
        f"weight_{weight.status}",
        f"The item weighs {measured} g; the piece we sold weighs {expected} g (± {_grams(weight.tolerance_grams)} g).",
        f"L'article pèse {measured} g ; la pièce vendue pèse {expected} g (± {_grams(weight.tolerance_grams)} g).",
    )


def _grams(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


# --- dispositions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class DispositionRule:
    """A shop's rule: when every condition given holds, ``disposition``. Conditions: grades,
    reason codes, categories (a category or a family name), accepted or not."""

    id: str
    disposition: Disposition
    grades: frozenset[str] = frozenset()
    reasons: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    accepted: bool | None = None

    def matches(self, grade: str, reason_code: str, category: str, accepted: bool) -> bool:
        names = {category.strip().lower(), category_family(category) or ""}
        return (
            (not self.grades or grade in self.grades)
            and (not self.reasons or reason_code in self.reasons)
            and (not self.categories or bool(names & self.categories))
            and (self.accepted is None or self.accepted == accepted)
        )

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DispositionRule:
        when = raw.get("when", {})
        return cls(
            id=str(raw["id"]),
            disposition=raw["then"],
            grades=frozenset(when.get("grades", ())),
            reasons=frozenset(when.get("reasons", ())),
            categories=frozenset(name.lower() for name in when.get("categories", ())),
            accepted=when.get("accepted"),
        )


def evaluate_disposition(
    grade: str,
    reason_code: str,
    category: str,
    shop_rules: Iterable[DispositionRule] = (),
    *,
    accepted: bool = True,
) -> tuple[Disposition, Explanation]:
    """The default disposition of an inspected unit. The shop's rules come first (the first that
    matches decides); then the built-in table (grade × reason × category)."""
    for rule in shop_rules:
        if rule.matches(grade, reason_code, category, accepted):
            if rule.disposition in NEEDS_ACCEPTED and not accepted:
                continue  # a shop rule cannot send a rejected unit back to sale
            return rule.disposition, Explanation(
                f"shop:{rule.id}",
                f"Shop rule '{rule.id}': {_NAMES[rule.disposition][0]}.",
                f"Règle de la boutique « {rule.id} » : {_NAMES[rule.disposition][1]}.",
            )
    return _default_disposition(grade, reason_code, category_family(category), accepted)


_NAMES: dict[str, tuple[str, str]] = {
    "restock": ("back to stock", "remise en stock"),
    "repackage_and_restock": ("new box or case, then back to stock", "nouvel emballage ou écrin, puis remise en stock"),
    "refurbish": ("refurbish", "reconditionnement"),
    "repair": ("repair", "réparation"),
    "resell_second_hand": ("resell second-hand at a discount", "revente en seconde main avec remise"),
    "liquidate": ("liquidate", "déstockage"),
    "donate": ("donate", "don"),
    "recycle": ("recycle", "recyclage"),
    "destroy": ("destroy", "destruction"),
    "return_to_vendor": ("return to the supplier", "retour au fournisseur"),
    "quarantine": ("quarantine", "quarantaine"),
}


def disposition_name(disposition: str, language: str) -> str:
    en, fr = _NAMES[disposition]
    return fr if language == "fr" else en


def _default_disposition(
    grade: str, reason_code: str, family: str | None, accepted: bool
) -> tuple[Disposition, Explanation]:
    if not accepted or grade in ("wrong_item", "missing"):
        return "quarantine", Explanation(
            "rejected_quarantine",
            "Rejected at inspection: held in quarantine until it is sent back or the case is settled.",
            "Refusé à l'inspection : mis en quarantaine jusqu'à son renvoi ou au règlement du litige.",
        )
    if grade == "defective":
        return "return_to_vendor", Explanation(
            "defective_return_to_vendor",
            "Defective: sent back to the supplier.",
            "Défectueux : renvoyé au fournisseur.",
        )
    if grade == "heavily_damaged" and family == "jewelry":
        return "repair", Explanation(
            "damaged_jewelry_repair",
            "Heavily damaged jewellery: sent to the workshop for repair.",
            "Bijou très abîmé : envoyé à l'atelier pour réparation.",
        )
    if grade == "heavily_damaged":
        return "recycle", Explanation(
            "heavily_damaged_recycle",
            "Heavily damaged: cannot be sold again, recycled.",
            "Très abîmé : invendable, recyclé.",
        )
    if grade in ("lightly_damaged", "used"):
        return "resell_second_hand", Explanation(
            f"{grade}_resell",
            "Used or lightly damaged: resold second-hand at a discount.",
            "Porté ou légèrement abîmé : revendu en seconde main avec une remise.",
        )
    if grade == "open_box":
        return "repackage_and_restock", Explanation(
            "open_box_repackage",
            "Opened but as new: new box or case, then back to stock.",
            "Ouvert mais comme neuf : nouvel emballage ou écrin, puis remis en stock.",
        )
    if reason_code in SIZE_REASONS:
        return "restock", Explanation(
            "wrong_size_new_restock",
            "Wrong size and as new: back to stock.",
            "Mauvaise taille et comme neuf : remis en stock.",
        )
    return "restock", Explanation("new_restock", "As new: back to stock.", "Comme neuf : remis en stock.")
