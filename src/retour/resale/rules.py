"""Pure second-hand decisions: the price of a graded unit and an honest description of why it is
discounted, in French and English. No I/O, no ORM."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal

from retour.kit.money import Money

DEFAULT_DISCOUNTS: dict[str, Decimal] = {
    "new": Decimal(10),
    "open_box": Decimal(15),
    "used": Decimal(30),
    "lightly_damaged": Decimal(45),
    "heavily_damaged": Decimal(65),
    "defective": Decimal(75),
}
"""Percent off the original price, per grade. A shop overrides any of them."""


class NotResellable(Exception):
    """The grade says there is nothing to sell (``wrong_item``, ``missing``)."""


@dataclass(frozen=True)
class ListingPrice:
    original: Money
    price: Money
    discount_percent: Decimal


def price_listing(original: Money, grade: str, discounts: Mapping[str, Decimal] | None = None) -> ListingPrice:
    """Original price minus the grade's discount, rounded half-even to the minor unit; never below
    zero. The shop's discounts replace the defaults grade by grade."""
    table = {**DEFAULT_DISCOUNTS, **(discounts or {})}
    if grade not in table:
        raise NotResellable(f"a unit graded '{grade}' cannot be listed for resale")
    percent = Decimal(table[grade])
    if not Decimal(0) <= percent <= Decimal(100):
        raise ValueError("a discount is between 0 and 100 percent")
    price = original - original.percent(percent)
    return ListingPrice(original, price if price.amount_minor >= 0 else Money.zero(original.currency), percent)


_GRADE_TEXT: dict[str, tuple[str, str]] = {
    "new": (
        "Returned unworn and inspected by our team: as new.",
        "Retourné sans avoir été porté et contrôlé par notre équipe : comme neuf.",
    ),
    "open_box": (
        "Returned in its opened box or case; the item itself is as new.",
        "Retourné dans son emballage ou écrin ouvert ; l'article lui-même est comme neuf.",
    ),
    "used": (
        "Worn or used before it was returned: it may show light signs of use.",
        "Porté ou utilisé avant d'être retourné : il peut présenter de légères traces d'usage.",
    ),
    "lightly_damaged": (
        "Has small visible flaws, described below.",
        "Présente de petits défauts visibles, décrits ci-dessous.",
    ),
    "heavily_damaged": (
        "Has significant damage, described below; sold as is.",
        "Présente des dommages importants, décrits ci-dessous ; vendu en l'état.",
    ),
    "defective": (
        "Does not work as it should, as described below; sold as is, for parts or repair.",
        "Ne fonctionne pas correctement, comme décrit ci-dessous ; vendu en l'état, pour pièces ou réparation.",
    ),
}


def describe_listing(
    grade: str, inspection_notes: str, language: str, *, discount_percent: Decimal | None = None
) -> str:
    """Why this unit is cheaper, in plain words: it was returned, its condition after inspection,
    the inspector's notes, and the discount. Nothing is hidden or embellished."""
    if grade not in _GRADE_TEXT:
        raise NotResellable(f"a unit graded '{grade}' cannot be listed for resale")
    en, fr = _GRADE_TEXT[grade]
    notes = " ".join(inspection_notes.split())
    if language == "fr":
        parts = ["Article de seconde main, issu d'un retour client.", fr]
        if notes:
            parts.append(f"Notes de l'inspection : {notes}")
        if discount_percent is not None:
            parts.append(f"Prix réduit de {_percent(discount_percent)} % par rapport au prix d'origine.")
        return " ".join(parts)
    parts = ["Second-hand item from a customer return.", en]
    if notes:
        parts.append(f"Inspection notes: {notes}")
    if discount_percent is not None:
        parts.append(f"Priced {_percent(discount_percent)}% below the original price.")
    return " ".join(parts)


def _percent(value: Decimal) -> str:
    return f"{value.normalize():f}"
