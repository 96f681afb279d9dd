"""Demo orders over the last 120 days, as the shop would send them to ``POST /api/v1/orders``.

Most are delivered, some are on their way, a few not shipped yet. Orders placed between 15
November and 31 December are busier (and fall under the holiday rule); when the 120 days do not
reach such a season, some orders of the previous one are added so that the rule still matters."""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from retour.catalog.schemas import ProductIn, VariantIn
from retour.demo.catalog import picture_url
from retour.demo.people import VIP, DemoCustomer, build_customers, street_address
from retour.order.schemas import AddressIn, CustomerIn, OrderIn, OrderLineIn, TenderIn

WINDOW_DAYS = 120
FIRST_NUMBER = 10001
_VAT = {"FR": 20, "BE": 21, "DE": 19, "CH": 0}  # Swiss orders ship without EU VAT
_PROMOS = (("LUNE10", 10), ("BIENVENUE15", 15), ("FETES20", 20))
_METAL_WEIGHT = {"argent": 5.0, "or jaune": 2.0, "or blanc": 1.4}
_SIZE_WEIGHT = {"48": 1, "50": 3, "52": 5, "54": 5, "56": 3, "58": 2, "60": 1, "S": 2, "M": 4, "L": 2}
# Days ago each VIP order was placed: the first ones matter most (one delivered more than 30 days
# ago but less than 60, so that only the VIP rule keeps it returnable).
_VIP_DAYS_AGO = (41, 9, 21, 3, 57, 34, 78, 104)


@dataclass(frozen=True)
class _Pick:
    product: ProductIn
    variant: VariantIn


def holiday_season(today: date) -> tuple[date, date]:
    """The latest 15 Nov – 31 Dec season that has started by ``today``."""
    year = today.year if (today.month, today.day) >= (11, 15) else today.year - 1
    return date(year, 11, 15), date(year, 12, 31)


def build_orders(catalog: list[ProductIn], *, count: int, now: datetime, seed: int = 2026) -> list[OrderIn]:
    """``count`` orders, deterministic for a given seed and ``now``, oldest first."""
    rng = random.Random(seed)
    picker = _Picker(catalog, rng)
    customers = build_customers(rng, max(10, int(count * 0.7)))
    vip_orders = min(len(_VIP_DAYS_AGO), max(3, count // 250), count)
    placements = _placements(rng, count - vip_orders, now)
    orders: list[tuple[datetime, DemoCustomer, bool]] = [(at, rng.choice(customers), False) for at in placements]
    for days_ago in _VIP_DAYS_AGO[:vip_orders]:
        orders.append((now - timedelta(days=days_ago, hours=rng.randrange(2, 20)), VIP, True))
    orders.sort(key=lambda item: item[0])
    return [
        _order(rng, picker, index, placed_at=placed_at, customer=customer, now=now, premium=premium)
        for index, (placed_at, customer, premium) in enumerate(orders)
    ]


def _placements(rng: random.Random, count: int, now: datetime) -> list[datetime]:
    """When each order was placed: busier during the holiday season."""
    start, end = holiday_season(now.date())
    oldest = (now - timedelta(days=WINDOW_DAYS)).date()
    overlaps = end >= oldest and start <= now.date()
    weights = []
    for days_ago in range(WINDOW_DAYS):
        day = (now - timedelta(days=days_ago)).date()
        weights.append(2.5 if start <= day <= end else 1.0 + 0.3 * (WINDOW_DAYS - days_ago) / WINDOW_DAYS)
    extra = 0 if overlaps else min(max(3, count // 25), count)
    placed = [
        now - timedelta(days=days_ago, seconds=rng.randrange(86_400))
        for days_ago in rng.choices(range(WINDOW_DAYS), weights=weights, k=count - extra)
    ]
    season = (end - start).days + 1
    for _ in range(extra):
        day = start + timedelta(days=rng.randrange(season))
        placed.append(datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(seconds=rng.randrange(86_400)))
    return placed


class _Picker:
    """Chooses what people buy: silver and best-sellers more often than diamonds."""

    def __init__(self, catalog: list[ProductIn], rng: random.Random) -> None:
        self.rng = rng
        self.products = catalog
        self.weights = [_popularity(product) for product in catalog]

    def pick(self, *, premium: bool = False) -> _Pick:
        while True:
            product = self.rng.choices(self.products, weights=self.weights)[0]
            variants = product.variants
            if premium:  # the VIP buys gold, below the high-value threshold
                variants = [v for v in variants if v.attributes["métal"].startswith("or ") and v.price_amount < 50_000]
                if not variants or product.variants[0].is_final_sale:
                    continue
            weights = [_METAL_WEIGHT[v.attributes["métal"]] * _variant_size_weight(v) for v in variants]
            return _Pick(product, self.rng.choices(variants, weights=weights)[0])


def _popularity(product: ProductIn) -> float:
    cheapest = min(variant.price_amount for variant in product.variants) / 100
    weight: float = 10 / math.sqrt(cheapest)
    if "best-seller" in product.tags:
        weight *= 2.5
    if product.variants[0].is_final_sale:
        weight *= 0.7
    return weight


def _variant_size_weight(variant: VariantIn) -> float:
    size = variant.attributes.get("taille")
    return float(_SIZE_WEIGHT.get(size, 1)) if size else 1.0


def _order(
    rng: random.Random,
    picker: _Picker,
    index: int,
    *,
    placed_at: datetime,
    customer: DemoCustomer,
    now: datetime,
    premium: bool,
) -> OrderIn:
    picks = _lines(rng, picker, premium=premium)
    promo = rng.choices((None, *_PROMOS), weights=(82, 8, 6, 4))[0] if not premium else None
    vat = _VAT[customer.country]
    lines = []
    for number, (pick, quantity) in enumerate(picks, start=1):
        gross = pick.variant.price_amount * quantity
        discount = round(gross * promo[1] / 100) if promo else 0
        paid = gross - discount
        lines.append(
            OrderLineIn(
                external_id=f"{index + 1}-{number}",
                sku=pick.variant.sku,
                title=f"{pick.product.title} – {pick.variant.title}",
                quantity=quantity,
                unit_price_amount=pick.variant.price_amount,
                discount_amount=discount,
                tax_amount=round(paid * vat / (100 + vat)),
                image_url=picture_url(pick.product.category, pick.variant.attributes["métal"]),
            )
        )
    subtotal = sum(line.unit_price_amount * line.quantity - line.discount_amount for line in lines)
    shipping = _shipping(customer.country, subtotal)
    engraved = any(pick.variant.is_final_sale for pick, _ in picks)
    shipped_at, delivered_at = _journey(rng, placed_at, now=now, country=customer.country, engraved=engraved)
    tags = [f"promo:{promo[0]}"] if promo else []
    if rng.random() < 0.12:
        tags.append("cadeau")
    street, city = street_address(customer)
    order_number = f"ML-{FIRST_NUMBER + index}"
    return OrderIn(
        external_id=str(5_810_000 + index),
        number=order_number,
        currency="EUR",
        customer=CustomerIn(
            email=customer.email, name=customer.name, language=customer.language, tags=list(customer.tags)
        ),
        shipping_address=AddressIn(
            name=customer.name,
            lines=[street],
            postal_code=customer.postal_code,
            city=city,
            country=customer.country,
        ),
        placed_at=placed_at,
        shipped_at=shipped_at,
        delivered_at=delivered_at,
        shipping_amount=shipping,
        tags=tags,
        gift_code=gift_code(order_number) if "cadeau" in tags else None,
        lines=lines,
        tenders=_tenders(rng, subtotal + shipping),
    )


def gift_code(number: str) -> str:
    """The code on the gift receipt of a gift order, from its number alone (drawing it would
    change every later choice of the generator)."""
    digest = hashlib.sha256(f"gift:{number}".encode()).hexdigest().upper()
    return f"LUNE-{digest[:4]}-{digest[4:8]}"


def _lines(rng: random.Random, picker: _Picker, *, premium: bool) -> list[tuple[_Pick, int]]:
    wanted = rng.choices((1, 2, 3), weights=(65, 25, 10))[0]
    picks: dict[str, tuple[_Pick, int]] = {}
    while len(picks) < wanted:
        pick = picker.pick(premium=premium)
        several = pick.product.category != "rings" and not pick.variant.is_final_sale and rng.random() < 0.06
        picks.setdefault(pick.variant.sku, (pick, 2 if several else 1))
    return list(picks.values())


def _shipping(country: str, subtotal: int) -> int:
    if country == "FR":
        return 0 if subtotal >= 8_000 else 490
    if country == "CH":
        return 1490
    return 0 if subtotal >= 15_000 else 990


def _journey(
    rng: random.Random, placed_at: datetime, *, now: datetime, country: str, engraved: bool
) -> tuple[datetime | None, datetime | None]:
    """Shipped a day or two later (engraving takes a few more), delivered a few days after.
    A few parcels never arrive (lost or stuck at customs), a few orders wait for stock."""
    if rng.random() < 0.006:
        return None, None
    shipped = placed_at + timedelta(days=rng.randint(4, 7) if engraved else rng.randint(1, 2), hours=rng.randint(1, 8))
    if shipped > now:
        return None, None
    transit = rng.randint(1, 3) if country == "FR" else rng.randint(2, 5)
    delivered = shipped + timedelta(days=transit, hours=rng.randint(0, 10))
    if delivered > now or rng.random() < 0.012:
        return shipped, None
    return shipped, delivered


def _tenders(rng: random.Random, total: int) -> list[TenderIn]:
    """Mostly card; sometimes a gift card covers part or all of it."""
    card = TenderIn(kind="card", amount=total, reference=f"pay_{rng.getrandbits(48):012x}")
    if rng.random() >= 0.1:
        return [card]
    gift_card = min(total, rng.choice((5_000, 10_000, 15_000)))
    reference = f"GC-{rng.getrandbits(16):04X}-{rng.getrandbits(16):04X}"
    tenders = [TenderIn(kind="gift_card", amount=gift_card, reference=reference)]
    if total > gift_card:
        tenders.append(card.model_copy(update={"amount": total - gift_card}))
    return tenders
