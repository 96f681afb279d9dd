"""Stock locations and the inventory ledger: create and list locations, read stock on hand, route
a returned unit to the location that needs it most, and record movements.

Stock on hand per SKU and location is the sum of the ledger; a movement that would take it below
zero is refused with nothing written. A restock puts the unit back on sale (the variant's
``inventory_quantity`` + 1) and a write-off takes it off, with an outbox message for the shop
platform (``inventory.restocked``, ``inventory.written_off``). Restocking a unit never touches
money: refunds are settled elsewhere."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from retour.audit import service as audit_service
from retour.catalog import service as catalog_service
from retour.inventory import repository
from retour.inventory import rules as inventory_rules
from retour.inventory.schemas import LocationIn, LocationOut, MovementIn, MovementOut, StockLevelOut, StockOut
from retour.kit import clock
from retour.kit.actor import Actor
from retour.kit.countries import unknown_countries
from retour.kit.errors import Conflict, InvalidInput, NotFound
from retour.models import InventoryMovement, StockLocation
from retour.outbox import service as outbox

RECENT_SALES_DAYS = 30
SUBJECT = "stock_location"
RESTOCKED = "inventory.restocked"
WRITTEN_OFF = "inventory.written_off"


# --- locations ------------------------------------------------------------------------------------


def create_location(session: Session, merchant_id: int, data: LocationIn, *, actor: Actor) -> StockLocation:
    """Add a warehouse or store. The shop's first location is its default; a new default replaces
    the previous one. Codes are unique per shop."""
    if repository.location_by_code(session, merchant_id, data.code) is not None:
        raise Conflict(f"a location with code '{data.code}' already exists", field="code", code="location_exists")
    existing = repository.locations(session, merchant_id, include_inactive=True)
    is_default = data.is_default or not existing
    if is_default and existing:
        repository.clear_default(session, merchant_id)
    location = StockLocation(
        merchant_id=merchant_id,
        code=data.code,
        name=data.name,
        kind=data.kind,
        address=data.address.model_dump(),
        countries_served=list(data.countries_served),
        is_default=is_default,
        is_active=True,
    )
    session.add(location)
    session.flush()
    audit_service.record(
        session,
        merchant_id=merchant_id,
        subject_type=SUBJECT,
        subject_id=location.id,
        action="location.created",
        actor=actor,
        after=location_out(location).model_dump(mode="json"),
    )
    return location


def list_locations(session: Session, merchant_id: int, *, include_inactive: bool = False) -> list[StockLocation]:
    """The default location first, then by code."""
    return repository.locations(session, merchant_id, include_inactive=include_inactive)


def get_location(session: Session, merchant_id: int, code: str) -> StockLocation:
    location = repository.location_by_code(session, merchant_id, code.strip().upper())
    if location is None or not location.is_active:
        raise NotFound(f"no stock location '{code}'", field="location_code", code="unknown_location")
    return location


def location_for_country(session: Session, merchant_id: int, country: str) -> StockLocation | None:
    """Where parcels from ``country`` come back: the location that serves it (a warehouse before a
    store), else the shop's default location, else None."""
    found = repository.locations(session, merchant_id)
    code = country.strip().upper()
    serving = [location for location in found if code in location.countries_served]
    serving.sort(key=lambda location: (location.kind != "warehouse", not location.is_default, location.code))
    if serving:
        return serving[0]
    return next((location for location in found if location.is_default), None)


def location_out(location: StockLocation) -> LocationOut:
    return LocationOut(
        id=location.id,
        code=location.code,
        name=location.name,
        kind=location.kind,
        address=dict(location.address),
        countries_served=list(location.countries_served),
        is_default=location.is_default,
        is_active=location.is_active,
    )


# --- stock ----------------------------------------------------------------------------------------


def on_hand(session: Session, merchant_id: int, sku: str, location_code: str) -> int:
    location = get_location(session, merchant_id, location_code)
    return repository.on_hand(session, merchant_id, sku, location.id)


def stock(session: Session, merchant_id: int, sku: str) -> StockOut:
    """Stock on hand of ``sku`` at every active location (0 where it has never been)."""
    levels = repository.on_hand_by_location(session, merchant_id, sku)
    rows = [
        StockLevelOut(location_code=location.code, location_name=location.name, on_hand=levels.get(location.id, 0))
        for location in repository.locations(session, merchant_id)
    ]
    return StockOut(sku=sku, on_hand=sum(row.on_hand for row in rows), locations=rows)


def route_restock(
    session: Session, merchant_id: int, sku: str, *, fixed_location: str | None = None
) -> inventory_rules.RestockChoice:
    """Where a returned unit of ``sku`` should go back to stock, and why (see
    ``inventory.rules.choose_restock_location``). A location's recent sales are the units of the SKU
    in orders placed in the last ``RECENT_SALES_DAYS`` days and delivered to a country it serves;
    its demand is that minus its stock on hand. Two grouped queries, whatever the shop's size."""
    found = repository.locations(session, merchant_id)
    by_id = {location.id: location.code for location in found}
    since = clock.now() - timedelta(days=RECENT_SALES_DAYS)
    ordered = repository.units_ordered_by_country(session, merchant_id, sku, since)
    levels = repository.on_hand_by_location(session, merchant_id, sku)
    sales = inventory_rules.recent_sales_by_location(
        {location.code: [str(country) for country in location.countries_served] for location in found}, ordered
    )
    try:
        return inventory_rules.choose_restock_location(
            sku,
            [location.code for location in found],
            sales,
            {by_id[key]: value for key, value in levels.items() if key in by_id},
            fixed_location=fixed_location.strip().upper() if fixed_location else None,
            window_days=RECENT_SALES_DAYS,
        )
    except inventory_rules.NoLocation:
        raise Conflict(
            "the shop has no stock location to restock to; create one first", code="no_stock_location"
        ) from None


@dataclass(frozen=True)
class Restocked:
    location: StockLocation
    movement: InventoryMovement
    choice: inventory_rules.RestockChoice | None
    """How the location was chosen; None when the caller named it."""


def restock_unit(
    session: Session,
    merchant_id: int,
    *,
    sku: str,
    return_line_id: int,
    inspection_unit_id: int,
    actor: Actor,
    location_code: str | None = None,
    fixed_location: str | None = None,
) -> Restocked:
    """Put one returned unit back into stock: at ``location_code`` when given, else where routing
    sends it. Appends a ``restock`` movement that names the return line and the unit."""
    choice = None
    if location_code is None:
        choice = route_restock(session, merchant_id, sku, fixed_location=fixed_location)
        location_code = choice.location
    location = get_location(session, merchant_id, location_code)
    movement = _append(
        session,
        merchant_id,
        location=location,
        sku=sku,
        kind="restock",
        quantity=1,
        return_line_id=return_line_id,
        inspection_unit_id=inspection_unit_id,
        note=choice.en if choice else "",
        actor=actor,
    )
    _adjust_sellable(session, merchant_id, RESTOCKED, movement, location)
    return Restocked(location, movement, choice)


def _adjust_sellable(
    session: Session, merchant_id: int, topic: str, movement: InventoryMovement, location: StockLocation
) -> None:
    """A unit restocked is on sale again, one written off is not: the variant's sellable quantity
    (what the portal offers for exchange) follows the ledger in the same transaction, and an outbox
    message tells the shop platform (``sku``, ``location``, ``quantity`` moved, always positive)."""
    after = catalog_service.adjust_inventory_quantity(session, merchant_id, movement.sku, movement.quantity)
    outbox.enqueue(
        session,
        merchant_id=merchant_id,
        topic=topic,
        payload={
            "sku": movement.sku,
            "location": location.code,
            "quantity": abs(movement.quantity),
            "movement_id": movement.id,
            "inventory_quantity": after,
        },
    )


def record_movement(session: Session, merchant_id: int, data: MovementIn, *, actor: Actor) -> InventoryMovement:
    """A sale, write-off, reservation or release at a location. Taking more than is on hand is
    refused (409, nothing written); a release cannot give back more than its return line reserved
    there."""
    location = get_location(session, merchant_id, data.location_code)
    if data.kind in ("reservation", "release") and data.return_line_id is None:
        raise InvalidInput(
            f"a {data.kind} names the return line it is for", field="return_line_id", code="return_line_required"
        )
    if data.return_line_id is not None and not repository.return_line_exists(session, merchant_id, data.return_line_id):
        raise NotFound("no such return line", field="return_line_id", code="unknown_return_line")
    repository.lock_location(session, merchant_id, location.id)
    if data.kind == "release":
        assert data.return_line_id is not None
        reserved = repository.reserved_for_line(session, merchant_id, data.sku, location.id, data.return_line_id)
        if data.quantity > reserved:
            raise Conflict(
                f"only {reserved} unit(s) are reserved for this return line at {location.code}",
                field="quantity",
                code="release_exceeds_reservation",
                extra={"reserved_quantity": reserved},
            )
    else:
        _check_stock(session, merchant_id, location, data.sku, data.kind, data.quantity)
    movement = _append(
        session,
        merchant_id,
        location=location,
        sku=data.sku,
        kind=data.kind,
        quantity=data.quantity,
        return_line_id=data.return_line_id,
        inspection_unit_id=None,
        note=data.note,
        actor=actor,
    )
    if data.kind == "write_off":
        _adjust_sellable(session, merchant_id, WRITTEN_OFF, movement, location)
    audit_service.record(
        session,
        merchant_id=merchant_id,
        subject_type=SUBJECT,
        subject_id=location.id,
        action=f"inventory.{data.kind}",
        actor=actor,
        after={"movement_id": movement.id, "sku": data.sku, "quantity": movement.quantity, "note": data.note},
    )
    return movement


def _check_stock(
    session: Session, merchant_id: int, location: StockLocation, sku: str, kind: str, quantity: int
) -> None:
    current = repository.on_hand(session, merchant_id, sku, location.id)
    try:
        inventory_rules.apply_movement(current, kind, quantity)
    except inventory_rules.InsufficientStock:
        raise Conflict(
            f"only {current} unit(s) of {sku} on hand at {location.code}",
            field="quantity",
            code="insufficient_stock",
            extra={"on_hand": current},
        ) from None


def _append(
    session: Session,
    merchant_id: int,
    *,
    location: StockLocation,
    sku: str,
    kind: str,
    quantity: int,
    return_line_id: int | None,
    inspection_unit_id: int | None,
    note: str,
    actor: Actor,
) -> InventoryMovement:
    movement = InventoryMovement(
        merchant_id=merchant_id,
        sku=sku,
        stock_location_id=location.id,
        quantity=inventory_rules.signed_quantity(kind, quantity),
        kind=kind,
        return_line_id=return_line_id,
        inspection_unit_id=inspection_unit_id,
        note=note[:500],
        actor_label=actor.label,
        created_at=clock.now(),
    )
    session.add(movement)
    session.flush()
    return movement


def list_movements(
    session: Session,
    merchant_id: int,
    *,
    sku: str | None = None,
    location_code: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> list[MovementOut]:
    """The ledger, newest first."""
    location_id = get_location(session, merchant_id, location_code).id if location_code else None
    rows = repository.movements(
        session, merchant_id, sku=sku, location_id=location_id, before_id=before_id, limit=limit
    )
    return describe_movements(session, merchant_id, rows)


def describe_movements(session: Session, merchant_id: int, rows: list[InventoryMovement]) -> list[MovementOut]:
    codes = repository.locations_by_ids(session, merchant_id, {row.stock_location_id for row in rows})
    return [
        MovementOut(
            id=row.id,
            sku=row.sku,
            location_code=codes[row.stock_location_id].code,
            kind=row.kind,
            quantity=row.quantity,
            return_line_id=row.return_line_id,
            inspection_unit_id=row.inspection_unit_id,
            note=row.note,
            actor=row.actor_label,
            created_at=clock.as_utc(row.created_at),
        )
        for row in rows
    ]


def locations_by_ids(session: Session, merchant_id: int, location_ids: set[int]) -> dict[int, StockLocation]:
    return repository.locations_by_ids(session, merchant_id, location_ids)


# --- editing a location ---------------------------------------------------------------------------


def get_location_by_id(session: Session, merchant_id: int, location_id: int) -> StockLocation:
    """One of the shop's locations, active or not. Another shop's location is not found."""
    location = repository.locations_by_ids(session, merchant_id, {location_id}).get(location_id)
    if location is None:
        raise NotFound("no such stock location", code="unknown_location")
    return location


def update_location(
    session: Session, merchant_id: int, location_id: int, data: LocationIn, *, is_active: bool, actor: Actor
) -> StockLocation:
    """Change a location's name, kind, address, countries served, default flag and whether it is
    active. Its code never changes: movements, the warehouse settings and the shop's integrations
    name the location by it. The shop keeps one default location, and it stays active: making a
    location the default takes the flag from the previous one; the default cannot be unset nor
    deactivated (make another one the default first). Country codes are ISO 3166-1 alpha-2.
    Audited (``location.updated``, before and after); a refusal changes nothing."""
    location = get_location_by_id(session, merchant_id, location_id)
    if data.code != location.code:
        raise InvalidInput("a location's code cannot change", field="code", code="location_code_fixed")
    check_countries(data)
    if location.is_default and not data.is_default:
        raise Conflict(
            "the shop needs a default location: make another one the default instead",
            field="is_default",
            code="default_location_required",
        )
    if data.is_default and not is_active:
        raise Conflict(
            "the default location cannot be deactivated: make another one the default first",
            field="is_active",
            code="default_location_inactive",
        )
    before = location_out(location).model_dump(mode="json")
    if data.is_default and not location.is_default:
        repository.clear_default(session, merchant_id)
    location.name = data.name
    location.kind = data.kind
    location.address = data.address.model_dump()
    location.countries_served = list(data.countries_served)
    location.is_default = data.is_default
    location.is_active = is_active
    session.flush()
    after = location_out(location).model_dump(mode="json")
    if after != before:
        audit_service.record(
            session,
            merchant_id=merchant_id,
            subject_type=SUBJECT,
            subject_id=location.id,
            action="location.updated",
            actor=actor,
            before=before,
            after=after,
        )
    return location


def check_countries(data: LocationIn) -> None:
    """Refuse a country (of the address or served) that is not an assigned ISO 3166-1 alpha-2 code,
    naming the field."""
    if data.address.country and unknown_countries([data.address.country]):
        raise InvalidInput(
            f"'{data.address.country}' is not an ISO 3166 country code", field="country", code="unknown_country"
        )
    unknown = unknown_countries(data.countries_served)
    if unknown:
        raise InvalidInput(
            f"not ISO 3166 country codes: {', '.join(unknown)}",
            field="countries_served",
            code="unknown_country",
            extra={"unknown": unknown},
        )
