"""``retour demo``: load Maison Lune, a French jewelry shop, so that there is something to try.

Loaded only into a database without shops (or with ``--force``, next to other shops), in one
transaction: a failed load leaves nothing behind. Everything goes through the same services as
the API and the pages, under a clock moved back to when it happened, except the orders' own rows,
written in batches (see ``bulk``)."""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from retour.catalog import service as catalog_service
from retour.catalog.schemas import ProductIn
from retour.demo import bulk
from retour.demo import returns as demo_returns
from retour.demo.catalog import build_catalog
from retour.demo.orders import build_orders
from retour.demo.policy import DEMO_POLICY
from retour.inventory import service as inventory_service
from retour.inventory.schemas import AddressIn, LocationIn
from retour.kit import clock
from retour.kit.actor import Actor
from retour.kit.db import unit_of_work
from retour.kit.errors import NotFound
from retour.merchant import service as merchant_service
from retour.merchant.service import Role
from retour.models import Order
from retour.policy import service as policy_service
from retour.return_request import service as return_service
from retour.settings import get_settings

SLUG = "maison-lune"
NAME = "Maison Lune"
PASSWORD = "lune-demo-2026"  # noqa: S105 - a published demo password, printed on purpose
STAFF: tuple[tuple[str, str, Role], ...] = (
    ("admin@maison-lune.fr", "Claire Lemoine", "admin"),
    ("agent@maison-lune.fr", "Sofiane Benali", "agent"),
    ("entrepot@maison-lune.fr", "Julien Roux", "warehouse"),
)
SEED = 2026
_ACTOR = Actor.system("Démo")


@dataclass(frozen=True)
class ReturnableOrder:
    number: str
    email: str
    lines: int


@dataclass(frozen=True)
class GiftOrder:
    number: str
    gift_code: str


@dataclass
class DemoResult:
    """What the load did (``loaded`` is False when the shop was already there or not wanted)."""

    loaded: bool
    merchant_id: int | None = None
    api_key: str | None = None
    orders: int = 0
    returns_by_status: dict[str, int] = field(default_factory=dict)
    returnable: list[ReturnableOrder] = field(default_factory=list)
    scan_number: str | None = None
    """An approved return with a ring whose parcel has just been delivered: scan it at the warehouse."""
    gift: GiftOrder | None = None


def run(factory: sessionmaker[Session], *, console: Console, orders: int = 2000, force: bool = False) -> DemoResult:
    """Load the demo shop unless the database already has a shop (or, with ``force``, already
    has Maison Lune); print how to log in and what to try."""
    with unit_of_work(factory, write=False) as session:
        has_shop = merchant_service.has_any_merchant(session)
        has_demo = _find_demo(session) is not None
    if has_demo or (has_shop and not force):
        _print_skipped(console, has_demo=has_demo)
        return DemoResult(loaded=False)
    started = time.perf_counter()
    with unit_of_work(factory) as session:
        result = load(session, orders=max(orders, 0), console=console)
    _print_loaded(console, result, seconds=time.perf_counter() - started)
    return result


def _find_demo(session: Session) -> int | None:
    try:
        return merchant_service.get_merchant_by_slug(session, SLUG).id
    except NotFound:
        return None


def load(session: Session, *, orders: int, console: Console | None = None) -> DemoResult:
    """Create the shop, its people, policy, catalogue, orders and returns in ``session``
    (the caller commits). Deterministic for a given ``clock.now()``."""
    now = clock.now().replace(microsecond=0)
    rng = random.Random(SEED)
    catalog = build_catalog()
    payloads = build_orders(catalog, count=orders, now=now, seed=SEED)
    opened = min(order.placed_at for order in payloads) - timedelta(days=14) if payloads else now
    with _progress(console) as progress:
        with clock.frozen(opened):
            merchant_id, variant_ids = _open_shop(session, catalog)
        staff, token = _people(session, merchant_id)
        task = progress.add_task("orders", total=len(payloads))
        created = bulk.insert_new_orders(
            session, merchant_id, payloads, progress=lambda done: progress.advance(task, done)
        )
        returns_task = progress.add_task("returns", total=None)

        def tick(total: int) -> None:
            progress.update(returns_task, total=total) if total else progress.advance(returns_task)

        with clock.frozen(now):
            made = demo_returns.create_returns(
                session, merchant_id, created, staff=staff, variant_ids=variant_ids, now=now, rng=rng, progress=tick
            )
    with clock.frozen(now):
        returnable = find_returnable(session, merchant_id, created, now=now)
        gift = find_gift(session, merchant_id, created, now=now, taken={item.number for item in returnable})
    return DemoResult(
        True,
        merchant_id,
        token,
        len(created),
        dict(sorted(made.counts.items())),
        returnable,
        scan_number=made.scan_number,
        gift=gift,
    )


def _progress(console: Console | None) -> Progress:
    return Progress(
        TextColumn("{task.description:>8}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=console is None,
        transient=False,
    )


def _open_shop(session: Session, catalog: list[ProductIn]) -> tuple[int, dict[str, int]]:
    merchant = merchant_service.create_merchant(session, slug=SLUG, name=NAME, currency="EUR", language="fr")
    merchant.brand_color = "#2f3a5f"
    merchant.settings = shop_settings()
    policy_service.publish(session, merchant_id=merchant.id, raw=DEMO_POLICY, actor=_ACTOR)
    for product in catalog:
        catalog_service.upsert_product(session, merchant.id, product)
    found = catalog_service.find_variants(session, merchant.id, [v.sku for p in catalog for v in p.variants])
    # What the demo's customers can exchange for: the variants in stock.
    variant_ids = {sku: variant.id for sku, (variant, _product) in found.items() if catalog_service.in_stock(variant)}
    _locations(session, merchant.id)
    return merchant.id, variant_ids


DEMO_LOCATIONS = (
    LocationIn(
        code="LYON",
        name="Entrepôt Lyon",
        kind="warehouse",
        address=AddressIn(lines=["14 rue de l'Arsenal"], postal_code="69007", city="Lyon", country="FR"),
        countries_served=["FR", "CH", "DE"],
        is_default=True,
    ),
    LocationIn(
        code="BRUXELLES",
        name="Relais Bruxelles",
        kind="warehouse",
        address=AddressIn(lines=["27 rue du Marché"], postal_code="1000", city="Bruxelles", country="BE"),
        countries_served=["BE"],
    ),
    LocationIn(
        code="PARIS-MARAIS",
        name="Boutique Paris Marais",
        kind="store",
        address=AddressIn(lines=["8 rue des Francs-Bourgeois"], postal_code="75003", city="Paris", country="FR"),
    ),
)
"""Where parcels come back (Lyon, and a relay in Brussels for Belgium) and the store that takes
returns in person. The shop's settings say the same (see ``shop_settings``)."""
STORE_HOURS = {"PARIS-MARAIS": "mar.-sam. 11h-19h"}


def shop_settings() -> dict[str, Any]:
    """The return addresses and stores of ``merchant.settings``, which the labels fall back on for a
    shop without locations: the same places as ``DEMO_LOCATIONS``, so both tell the same story."""
    addresses = {
        "default" if location.is_default else location.address.country: {
            "name": f"{NAME} - {location.name}",
            "lines": list(location.address.lines),
            "postal_code": location.address.postal_code,
            "city": location.address.city,
            "country": location.address.country,
        }
        for location in DEMO_LOCATIONS
        if location.kind == "warehouse"
    }
    stores = [
        {
            "code": location.code,
            "name": location.name,
            "address": ", ".join(location.address.lines),
            "postal_code": location.address.postal_code,
            "city": location.address.city,
            "country": location.address.country,
            "hours": STORE_HOURS[location.code],
        }
        for location in DEMO_LOCATIONS
        if location.kind == "store"
    ]
    return {"return_addresses": addresses, "stores": stores}


def _locations(session: Session, merchant_id: int) -> None:
    """The warehouse that takes the parcels back (the default), the Brussels relay and the Paris store."""
    for location in DEMO_LOCATIONS:
        inventory_service.create_location(session, merchant_id, location, actor=_ACTOR)


def _people(session: Session, merchant_id: int) -> tuple[demo_returns.Staff, str]:
    actors: dict[str, Actor] = {}
    for email, name, role in STAFF:
        user = merchant_service.create_staff_user(
            session, merchant_id=merchant_id, email=email, password=PASSWORD, role=role, name=name
        )
        actors[role] = Actor("staff", str(user.id), name)
    issued = merchant_service.create_api_key(
        session, merchant_id=merchant_id, name="Démo", scopes=["read", "write", "refund"], actor=_ACTOR
    )
    return demo_returns.Staff(agent=actors["agent"], warehouse=actors["warehouse"]), issued.token


def find_returnable(session: Session, merchant_id: int, orders: list[Order], *, now: datetime) -> list[ReturnableOrder]:
    """Three recent orders of three customers that can be returned right now, in full and without
    review: delivered, in the window, nothing final sale, nothing returned yet. One has several
    lines when there is such an order."""
    recent = sorted(
        (o for o in orders if o.delivered_at and now - clock.as_utc(o.delivered_at) < timedelta(days=20)),
        key=lambda o: clock.as_utc(cast(datetime, o.delivered_at)),
        reverse=True,
    )
    singles: list[ReturnableOrder] = []
    multi: ReturnableOrder | None = None
    emails: set[str] = set()
    for order in recent:
        several = len(order.lines) > 1
        if order.email in emails or (multi if several else len(singles) == 3):
            continue
        if _fully_returnable(session, merchant_id, order):
            found = ReturnableOrder(order.number, order.email, len(order.lines))
            emails.add(order.email)
            if several:
                multi = found
            else:
                singles.append(found)
        if multi and len(singles) >= 2:
            break
    return [*singles[:2], multi] if multi else singles[:3]


def find_gift(
    session: Session, merchant_id: int, orders: list[Order], *, now: datetime, taken: set[str]
) -> GiftOrder | None:
    """The most recent gift order (it has a gift code) that its recipient can return now, in full
    and without review, other than the orders printed already."""
    recent = sorted(
        (o for o in orders if o.gift_code and o.delivered_at and o.number not in taken),
        key=lambda o: clock.as_utc(cast(datetime, o.delivered_at)),
        reverse=True,
    )
    for order in recent:
        if now - clock.as_utc(cast(datetime, order.delivered_at)) < timedelta(days=20) and _fully_returnable(
            session, merchant_id, order
        ):
            return GiftOrder(order.number, cast(str, order.gift_code))
    return None


def _fully_returnable(session: Session, merchant_id: int, order: Order) -> bool:
    evaluation = return_service.evaluate_order(session, merchant_id, order)
    return all(
        item.decision.status == "eligible"
        and item.decision.returnable_quantity == item.line.quantity
        and not item.line.is_final_sale
        for item in evaluation.lines
    )


def _print_loaded(console: Console, result: DemoResult, *, seconds: float) -> None:
    base = get_settings().public_url
    statuses = Counter(result.returns_by_status)
    table = Table.grid(padding=(0, 2))
    table.add_row("Back-office", f"[bold]{base}/backoffice[/bold]")
    for email, _name, role in STAFF:
        table.add_row(f"  {role}", f"{email}  /  [bold]{PASSWORD}[/bold]")
    table.add_row("API key", f"[bold]{result.api_key}[/bold]  (read, write, refund; shown once)")
    table.add_row("Portal", f"[bold]{base}/s/{SLUG}/[/bold]")
    table.add_row("Returnable now", "order number + email, in the portal or the API:")
    for item in result.returnable:
        table.add_row("", f"[bold]{item.number}[/bold]  {item.email}")
    if result.gift:
        table.add_row(
            "Gift return", f"[bold]{result.gift.number}[/bold]  gift code [bold]{result.gift.gift_code}[/bold]"
        )
    if result.scan_number:
        table.add_row("Warehouse", f"scan [bold]{result.scan_number}[/bold] (a ring, its parcel just delivered)")
    table.add_row("Loaded", f"{result.orders} orders, {sum(statuses.values())} returns in {seconds:.1f} s")
    table.add_row("", ", ".join(f"{status} {count}" for status, count in sorted(statuses.items())))
    console.print(Panel(table, title=f"{NAME} is ready", title_align="left", border_style="green"))


def _print_skipped(console: Console, *, has_demo: bool) -> None:
    if not has_demo:
        console.print("The database already has a shop: demo not loaded (add it anyway with `retour demo --force`).")
        return
    base = get_settings().public_url
    console.print(f"{NAME} is already there: demo not loaded again. Back-office {base}/backoffice")
    for email, _name, role in STAFF:
        console.print(f"  {role:<9} {email}  /  {PASSWORD}")
    console.print(f"API keys are shown once: make a new one with `retour create-api-key --shop {SLUG}`.")
