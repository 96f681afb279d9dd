"""Pure inventory decisions: the sign of each ledger movement, whether stock allows it, and where
a returned unit should be restocked. No I/O, no ORM.

Stock on hand per SKU and location is never stored: it is the sum of the ledger's movements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

MovementKind = Literal["restock", "reservation", "release", "write_off", "sale"]
KINDS: tuple[MovementKind, ...] = ("restock", "reservation", "release", "write_off", "sale")
INBOUND: frozenset[str] = frozenset({"restock", "release"})
"""Movements that add to stock on hand; the others take from it."""


class InsufficientStock(Exception):
    def __init__(self, on_hand: int, wanted: int) -> None:
        super().__init__(f"only {on_hand} unit(s) on hand, {wanted} asked")
        self.on_hand = on_hand
        self.wanted = wanted


def signed_quantity(kind: str, quantity: int) -> int:
    """The ledger delta of a movement of ``quantity`` units (always given positive)."""
    if kind not in KINDS:
        raise ValueError(f"unknown movement kind {kind!r}")
    if quantity <= 0:
        raise ValueError("a movement moves at least one unit")
    return quantity if kind in INBOUND else -quantity


def apply_movement(on_hand: int, kind: str, quantity: int) -> int:
    """Stock on hand after the movement; ``InsufficientStock`` when it would go below zero (a sale,
    write-off or reservation of units that are not there)."""
    after = on_hand + signed_quantity(kind, quantity)
    if after < 0:
        raise InsufficientStock(on_hand, quantity)
    return after


@dataclass(frozen=True)
class RestockChoice:
    location: str
    rule_id: str
    en: str
    fr: str
    scores: tuple[tuple[str, int], ...] = ()
    """Each candidate location with its demand score (recent sales − stock on hand), in stable order."""


class NoLocation(Exception):
    """The shop has no stock location to restock to."""


def recent_sales_by_location(
    countries_served: Mapping[str, Sequence[str]], units_by_country: Mapping[str, int]
) -> dict[str, int]:
    """Units of a SKU recently ordered "near" each location: the sum over the countries the
    location serves of the units delivered there. A country served by two locations counts for
    both; a location serving no country has no recent sales."""
    by_country = {country.upper(): units for country, units in units_by_country.items()}
    return {
        code: sum(by_country.get(country.upper(), 0) for country in dict.fromkeys(countries))
        for code, countries in countries_served.items()
    }


def choose_restock_location(
    sku: str,
    locations: Sequence[str],
    recent_sales_by_location: Mapping[str, int],
    on_hand_by_location: Mapping[str, int],
    fixed_location: str | None = None,
    *,
    window_days: int | None = None,
) -> RestockChoice:
    """Where a returned unit of ``sku`` goes back to stock: the shop's fixed location when it set
    one, else the location where the SKU's demand is highest, measured as recent sales minus stock
    on hand. Ties go to the first location in ``locations`` (callers pass the default first, then by
    code), so the same facts always give the same answer. With ``window_days``, the explanation
    says recent sales are the units ordered in that many days from the countries served."""
    if not locations:
        raise NoLocation("no stock location")
    if fixed_location is not None and fixed_location in locations:
        return RestockChoice(
            fixed_location,
            "fixed_location",
            f"The shop restocks every returned unit at {fixed_location}.",
            f"La boutique remet en stock tous les retours à {fixed_location}.",
        )
    scores = tuple(
        (code, recent_sales_by_location.get(code, 0) - on_hand_by_location.get(code, 0)) for code in locations
    )
    best, score = max(scores, key=lambda item: item[1])  # max keeps the first of equal scores
    sales, stock = recent_sales_by_location.get(best, 0), on_hand_by_location.get(best, 0)
    if len(set(value for _, value in scores)) == 1 and len(scores) > 1:
        return RestockChoice(
            best,
            "demand_tie",
            f"Demand for {sku} is the same everywhere ({score}): restocked at the first location, {best}.",
            f"La demande pour {sku} est la même partout ({score}) : remis en stock au premier site, {best}.",
            scores,
        )
    if window_days is None:
        return RestockChoice(
            best,
            "highest_demand",
            f"{best} has the highest demand for {sku}: {sales} recent sale(s) for {stock} unit(s) in stock.",
            f"{best} a la plus forte demande pour {sku} : {sales} vente(s) récente(s) pour {stock} unité(s) en stock.",
            scores,
        )
    return RestockChoice(
        best,
        "highest_demand",
        f"{best} has the highest demand for {sku} ({score}): {sales} unit(s) ordered in the last {window_days} "
        f"days from the countries it serves, {stock} in stock.",
        f"{best} a la plus forte demande pour {sku} ({score}) : {sales} unité(s) commandée(s) ces "
        f"{window_days} derniers jours dans les pays qu'il dessert, {stock} en stock.",
        scores,
    )
