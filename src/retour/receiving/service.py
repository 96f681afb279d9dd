"""Receiving: scan a parcel, record what arrived against the return's quantity ledger, and keep
the queues the warehouse works from; inspect each unit, decide and apply its disposition.

Every change is written with its audit event on the return (so that the return's timeline shows
it) and, where the customer is told, an outbox row. Services flush, never commit."""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path

from pydantic import ValidationError
from sqlalchemy.orm import Session

from retour.audit import service as audit_service
from retour.catalog import service as catalog_service
from retour.inventory import service as inventory_service
from retour.kit import clock
from retour.kit.actor import Actor
from retour.kit.errors import Conflict, InvalidInput, NotFound
from retour.merchant import service as merchant_service
from retour.models import (
    InspectionChecklist,
    InspectionUnit,
    Order,
    OrderLine,
    Receipt,
    ReceiptLine,
    ReturnLine,
    ReturnRequest,
    Shipment,
)
from retour.outbox import service as outbox_service
from retour.photo import service as photo_service
from retour.receiving import repository
from retour.receiving import rules as receiving_rules
from retour.receiving.schemas import (
    ChecklistItemIn,
    ChecklistItemOut,
    ChecklistOut,
    ExpectedLineOut,
    QueueCountsOut,
    ReceiptOut,
    ScanOut,
    ShipmentOut,
    TextOut,
    UnitOut,
    WarehouseSettings,
)
from retour.resale import service as resale_service
from retour.return_request import service as return_request_service
from retour.return_request.repository import ReturnFilters
from retour.settings import get_settings

log = logging.getLogger("retour.receiving")
SUBJECT = "return_request"
RECEIVABLE = ("approved", "in_progress")
OPEN_SHIPMENT_STATUSES = ("delivered", "in_transit", "label_created", "lost")
"""A parcel in one of these states may be the one on the bench (a 'lost' one that turns up too)."""


# --- the shop's warehouse settings ----------------------------------------------------------------


def warehouse_settings(session: Session, merchant_id: int) -> WarehouseSettings:
    """The shop's disposition rules, resale discounts, fixed restock location and scale tolerance
    (``merchant.settings["warehouse"]``); the defaults where the shop set nothing."""
    merchant = merchant_service.get_merchant(session, merchant_id)
    raw = (merchant.settings or {}).get("warehouse") or {}
    try:
        return WarehouseSettings.model_validate(raw)
    except ValidationError:
        log.warning("shop %s has invalid warehouse settings; using the defaults", merchant_id)
        return WarehouseSettings()


def update_warehouse_settings(
    session: Session, merchant_id: int, data: WarehouseSettings, *, actor: Actor
) -> WarehouseSettings:
    """Replace the shop's warehouse settings. A fixed restock location must exist."""
    if data.restock_location:
        inventory_service.get_location(session, merchant_id, data.restock_location)
    merchant = merchant_service.get_merchant(session, merchant_id)
    before = (merchant.settings or {}).get("warehouse")
    after = data.model_dump(mode="json")
    merchant.settings = {**(merchant.settings or {}), "warehouse": after}
    session.flush()
    audit_service.record(
        session,
        merchant_id=merchant_id,
        subject_type="merchant",
        subject_id=merchant_id,
        action="warehouse.settings_updated",
        actor=actor,
        before={"warehouse": before},
        after={"warehouse": after},
    )
    return data


# --- scanning -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExpectedLine:
    line: ReturnLine
    order_line: OrderLine
    expected_weight_grams: Decimal | None

    @property
    def remaining_quantity(self) -> int:
        return self.line.approved_quantity - self.line.received_quantity


@dataclass(frozen=True)
class ScanResult:
    """The return a scanned code opens, with what it still expects."""

    request: ReturnRequest
    order: Order
    matched_by: str
    shipment: Shipment | None
    lines: list[ExpectedLine]
    units: list[InspectionUnit] = field(default_factory=list)


def find_return_for_scan(session: Session, merchant_id: int, code: str) -> ScanResult:
    """Open the return behind a scanned code: the label's barcode or the RMA number (``R-000123``),
    the label's QR code, or the parcel's tracking number. 404 when no return of this shop matches."""
    scanned = receiving_rules.parse_scan(code)
    request, shipment, matched_by = None, None, "rma_number"
    if scanned.rma_number:
        request = return_request_service.find_by_number(session, merchant_id, scanned.rma_number)
    if request is None and scanned.tracking_number:
        shipment = repository.shipment_by_tracking(session, merchant_id, scanned.tracking_number)
        if shipment is not None:
            request = return_request_service.get_return(session, merchant_id, shipment.return_request_id)
            matched_by = "tracking_number"
    if request is None:
        raise NotFound("no return matches this code", field="code", code="scan_not_found")
    shipments = repository.shipments_of_return(session, merchant_id, request.id)
    if shipment is None:
        shipment = next((s for s in shipments if s.tracking_number == scanned.tracking_number), None)
        shipment = shipment or _next_parcel(shipments)
    return ScanResult(
        request=request,
        order=return_request_service.context_for(session, merchant_id, [request])[0][request.order_id],
        matched_by=matched_by,
        shipment=shipment,
        lines=expected_lines(session, merchant_id, request),
        units=repository.units_of_return(session, merchant_id, request.id),
    )


def expected_lines(session: Session, merchant_id: int, request: ReturnRequest) -> list[ExpectedLine]:
    """The return's lines with their order lines and catalogue weights."""
    _, order_lines = return_request_service.context_for(session, merchant_id, [request])
    skus = [order_lines[line.order_line_id].sku for line in request.lines]
    variants = catalog_service.find_variants(session, merchant_id, skus)
    result = []
    for line in request.lines:
        order_line = order_lines[line.order_line_id]
        found = variants.get(order_line.sku)
        result.append(ExpectedLine(line, order_line, found[0].weight_grams if found else None))
    return result


def _next_parcel(shipments: Sequence[Shipment]) -> Shipment | None:
    """The parcel expected next: the oldest one not received yet, preferring those further along."""
    waiting = [s for s in shipments if s.status in OPEN_SHIPMENT_STATUSES]
    waiting.sort(key=lambda s: (OPEN_SHIPMENT_STATUSES.index(s.status), s.id))
    return waiting[0] if waiting else None


# --- receiving ------------------------------------------------------------------------------------


def receive_parcel(
    session: Session,
    merchant_id: int,
    return_id: int,
    *,
    actor: Actor,
    lines: Sequence[tuple[int, int]] = (),
    unexpected: Sequence[tuple[str, int]] = (),
    weight_grams: int | None = None,
    outcome: str | None = None,
    shipment_id: int | None = None,
    notes: str = "",
) -> Receipt:
    """Record one parcel: ``lines`` are ``(return_line_id, quantity)`` received against the return,
    ``unexpected`` are ``(sku, quantity)`` nobody expected. Received quantities never exceed what
    was approved (409 naming the line); nothing is written on a refusal. Creates one inspection
    unit per unit received, marks the parcel received, moves the return ``approved ->
    in_progress`` on its first parcel, and tells the customer (outbox ``return.received``).
    Partial parcels, several parcels per return, empty boxes and wrong items are all recorded."""
    request = return_request_service.get_return(session, merchant_id, return_id, lock=True)
    if request.status not in RECEIVABLE:
        raise Conflict(
            f"a return that is {request.status} cannot receive parcels",
            code="not_receivable",
            extra={"status": request.status},
        )
    locked = {line.id: line for line in repository.lock_return_lines(session, merchant_id, return_id)}
    counts = _check_lines(lines, locked)
    _check_unexpected(unexpected)
    remaining = {line.id: line.approved_quantity - line.received_quantity for line in locked.values()}
    try:
        decided = receiving_rules.evaluate_receipt(remaining, counts, sum(q for _, q in unexpected), outcome)
    except receiving_rules.WarehouseRefusal as refused:
        raise InvalidInput(refused.en, field=refused.field, code=refused.code, extra={"fr": refused.fr}) from None
    shipment = _shipment_for(session, merchant_id, request.id, shipment_id)
    _, order_lines = return_request_service.context_for(session, merchant_id, [request])
    receipt = Receipt(
        merchant_id=merchant_id,
        return_request_id=request.id,
        shipment_id=shipment.id if shipment else None,
        outcome=decided,
        weight_grams=weight_grams,
        notes=notes[:2000],
        received_by_id=actor.id,
        received_by_label=actor.label,
        lines=[],
    )
    for line_id, quantity in counts.items():
        locked[line_id].received_quantity += quantity
        sku = order_lines[locked[line_id].order_line_id].sku
        receipt.lines.append(ReceiptLine(merchant_id=merchant_id, return_line_id=line_id, sku=sku, quantity=quantity))
    for sku, quantity in unexpected:
        receipt.lines.append(ReceiptLine(merchant_id=merchant_id, return_line_id=None, sku=sku, quantity=quantity))
    session.add(receipt)
    session.flush()
    units = _create_units(session, receipt, locked, order_lines)
    if shipment is not None:
        shipment.status = "received"
        shipment.updated_at = clock.now()
    session.flush()
    _record_receipt(session, request, receipt, units, actor)
    if request.status == "approved":
        return_request_service.start_return(session, merchant_id, request.id, actor=actor)
    return receipt


def _check_lines(lines: Sequence[tuple[int, int]], locked: dict[int, ReturnLine]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for index, (line_id, quantity) in enumerate(lines):
        if line_id not in locked:
            raise InvalidInput(
                "this line is not part of the return", field=f"lines.{index}.return_line_id", code="unknown_return_line"
            )
        if line_id in counts:
            raise InvalidInput(
                "the same return line is listed twice",
                field=f"lines.{index}.return_line_id",
                code="duplicate_return_line",
            )
        if quantity < 1:
            raise InvalidInput("receive at least one unit", field=f"lines.{index}.quantity", code="invalid_quantity")
        line = locked[line_id]
        left = line.approved_quantity - line.received_quantity
        if quantity > left:
            raise Conflict(
                f"only {left} more unit(s) of this line are expected; record the others as unexpected items",
                field=f"lines.{index}.quantity",
                code="quantity_exceeds_expected",
                extra={"expected_quantity": left},
            )
        counts[line_id] = quantity
    return counts


def _check_unexpected(unexpected: Sequence[tuple[str, int]]) -> None:
    for index, (sku, quantity) in enumerate(unexpected):
        if not sku.strip():
            raise InvalidInput("say what the item is", field=f"unexpected.{index}.sku", code="sku_required")
        if quantity < 1:
            raise InvalidInput(
                "receive at least one unit", field=f"unexpected.{index}.quantity", code="invalid_quantity"
            )


def _shipment_for(session: Session, merchant_id: int, return_id: int, shipment_id: int | None) -> Shipment | None:
    if shipment_id is None:
        candidate = _next_parcel(repository.shipments_of_return(session, merchant_id, return_id))
        if candidate is None:
            return None
        shipment_id = candidate.id
    shipment = repository.lock_shipment(session, merchant_id, shipment_id)
    if shipment is None or shipment.return_request_id != return_id:
        raise NotFound("no such parcel for this return", field="shipment_id", code="unknown_shipment")
    return shipment


def _create_units(
    session: Session, receipt: Receipt, locked: dict[int, ReturnLine], order_lines: dict[int, OrderLine]
) -> list[InspectionUnit]:
    units = []
    for receipt_line in receipt.lines:
        if receipt_line.return_line_id is not None:
            order_line = order_lines[locked[receipt_line.return_line_id].order_line_id]
            title, category = order_line.title, order_line.category
        else:
            title, category = receipt_line.sku, ""
        for _ in range(receipt_line.quantity):
            units.append(
                InspectionUnit(
                    merchant_id=receipt.merchant_id,
                    return_request_id=receipt.return_request_id,
                    return_line_id=receipt_line.return_line_id,
                    receipt_line_id=receipt_line.id,
                    sku=receipt_line.sku,
                    title=title,
                    category=category,
                    status="awaiting_inspection",
                )
            )
    session.add_all(units)
    return units


def _record_receipt(
    session: Session, request: ReturnRequest, receipt: Receipt, units: list[InspectionUnit], actor: Actor
) -> None:
    after = {
        "receipt_id": receipt.id,
        "outcome": receipt.outcome,
        "lines": [
            {"return_line_id": line.return_line_id, "sku": line.sku, "quantity": line.quantity}
            for line in receipt.lines
            if line.return_line_id is not None
        ],
        "unexpected": [
            {"sku": line.sku, "quantity": line.quantity} for line in receipt.lines if line.return_line_id is None
        ],
        "weight_grams": receipt.weight_grams,
        "shipment_id": receipt.shipment_id,
        "unit_ids": [unit.id for unit in units],
    }
    record(session, request, "return.received", actor, after=after)
    outbox_service.enqueue(
        session,
        merchant_id=request.merchant_id,
        topic="return.received",
        payload={"return_id": request.id, "number": request.number, "receipt_id": receipt.id},
    )


def record(
    session: Session,
    request: ReturnRequest,
    action: str,
    actor: Actor,
    *,
    before: dict[str, object] | None = None,
    after: dict[str, object] | None = None,
) -> None:
    """An audit event on the return, so that its timeline shows what the warehouse did."""
    audit_service.record(
        session,
        merchant_id=request.merchant_id,
        subject_type=SUBJECT,
        subject_id=request.id,
        action=action,
        actor=actor,
        before=before,
        after=after,
    )


def receipts_of_return(session: Session, merchant_id: int, return_id: int) -> list[Receipt]:
    return repository.receipts_of_return(session, merchant_id, return_id)


# --- queues ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueCounts:
    awaiting_parcel: int
    """Approved returns whose parcel has not been received yet."""
    to_inspect: int
    to_dispose: int
    """Inspected units whose disposition has not been applied yet."""
    in_repair: int
    in_refurbishment: int
    active_listings: int


def queue_counts(session: Session, merchant_id: int) -> QueueCounts:
    """How much work waits in each warehouse queue (four queries, whatever the volume)."""
    returns = return_request_service.count_by_status(session, merchant_id)
    units = repository.count_units_by_status(session, merchant_id)
    listings = resale_service.count_by_status(session, merchant_id)
    return QueueCounts(
        awaiting_parcel=returns.get("approved", 0),
        to_inspect=units.get("awaiting_inspection", 0),
        to_dispose=units.get("inspected", 0),
        in_repair=units.get("in_repair", 0),
        in_refurbishment=units.get("in_refurbishment", 0),
        active_listings=listings.get("active", 0),
    )


def list_awaiting_parcel(
    session: Session, merchant_id: int, *, cursor: str | None = None, limit: int = 50
) -> return_request_service.Page:
    """Approved returns, newest first: the parcels the warehouse is waiting for."""
    return return_request_service.list_returns(
        session, merchant_id, ReturnFilters(status="approved"), cursor=cursor, limit=limit
    )


UNIT_QUEUES: dict[str, tuple[str, ...]] = {
    "to_inspect": ("awaiting_inspection",),
    "to_dispose": ("inspected",),
    "workshop": ("in_repair", "in_refurbishment"),
    "done": ("done",),
}


@dataclass(frozen=True)
class Page:
    items: list[InspectionUnit]
    next_cursor: str | None


def list_units(
    session: Session,
    merchant_id: int,
    *,
    statuses: Sequence[str] = ("awaiting_inspection",),
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Units in the given statuses, oldest first (the order they should be worked in)."""
    after_id = _decode_cursor(cursor) if cursor else None
    rows = repository.list_units(session, merchant_id, statuses, after_id=after_id, limit=limit + 1)
    items = rows[:limit]
    return Page(items, _encode_cursor(items[-1].id) if len(rows) > limit else None)


def units_of_return(session: Session, merchant_id: int, return_id: int) -> list[InspectionUnit]:
    return_request_service.get_return(session, merchant_id, return_id)  # 404 for another shop's return
    return repository.units_of_return(session, merchant_id, return_id)


def get_unit(session: Session, merchant_id: int, unit_id: int) -> InspectionUnit:
    unit = repository.get_unit(session, merchant_id, unit_id)
    if unit is None:
        raise NotFound("no such unit")
    return unit


# --- inspection photos ----------------------------------------------------------------------------

MAX_UNIT_PHOTOS = 20
PHOTO_REFERENCE = re.compile(r"photos/([0-9a-f]{64})\.jpg")
"""A photo stored by ``add_inspection_photos``, as the unit (and its resale listing) names it:
relative to the shop's storage folder."""


def add_inspection_photos(
    session: Session,
    merchant_id: int,
    unit_id: int,
    uploads: Sequence[bytes],
    *,
    actor: Actor,
    storage_dir: Path | None = None,
) -> list[str]:
    """Photos taken at the bench: each stored through the photo service (checked from its bytes,
    re-encoded, EXIF stripped) against the unit's return and line, and added to the unit's photos,
    which its resale listing takes. Every upload is checked before any is stored: one refused
    (``InvalidInput``, field ``photos``, the photo service's message) stores none, and so does one
    photo too many. ``NotFound`` for another shop's unit. Returns the references added."""
    unit = repository.get_unit(session, merchant_id, unit_id, lock=True)
    if unit is None:
        raise NotFound("no such unit")
    if not uploads:
        return []
    if len(unit.photos) + len(uploads) > MAX_UNIT_PHOTOS:
        raise InvalidInput(
            f"at most {MAX_UNIT_PHOTOS} photos per unit",
            field=photo_service.FIELD,
            code="too_many_photos",
            extra={"message_fr": f"{MAX_UNIT_PHOTOS} photos au plus par article"},
        )
    for data in uploads:
        photo_service.clean(data)  # refuses before anything is written
    stored = [
        photo_service.store_photo(
            session,
            merchant_id,
            data=data,
            return_request_id=unit.return_request_id,
            return_line_id=unit.return_line_id,
            storage_dir=storage_dir,
        )
        for data in uploads
    ]
    references = [f"photos/{Path(photo.path).name}" for photo in stored]
    unit.photos = [*unit.photos, *references]
    unit.updated_at = clock.now()
    session.flush()
    request = return_request_service.get_return(session, merchant_id, unit.return_request_id)
    record(session, request, "return.inspection_photos_added", actor, after={"unit_id": unit.id, "photos": references})
    return references


def inspection_photo(
    session: Session, merchant_id: int, unit_id: int, name: str, *, storage_dir: Path | None = None
) -> bytes:
    """The file of one of the unit's stored photos (``<sha256>.jpg``), read from this shop's
    storage folder. ``NotFound`` for another shop's unit, a photo the unit does not name, or a
    reference that is not a stored file (the API takes references the shop keeps elsewhere)."""
    unit = get_unit(session, merchant_id, unit_id)
    reference = f"photos/{name}"
    if not PHOTO_REFERENCE.fullmatch(reference) or reference not in unit.photos:
        raise NotFound("no such photo")
    root = Path(storage_dir) if storage_dir is not None else get_settings().storage_dir
    try:
        return (root / str(merchant_id) / reference).read_bytes()
    except FileNotFoundError:
        raise NotFound("no such photo") from None


def _encode_cursor(unit_id: int) -> str:
    return base64.urlsafe_b64encode(f"u:{unit_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, value = raw.split(":", 1)
        if prefix != "u" or not value.isdigit():
            raise ValueError(raw)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("this cursor is not one we gave out", field="cursor", code="invalid_cursor") from None


# --- checklists -----------------------------------------------------------------------------------


def effective_checklist(session: Session, merchant_id: int, category: str) -> receiving_rules.Checklist:
    """The checklist a unit of ``category`` is inspected with: the shop's own, else the built-in one."""
    overrides = {
        row.category: tuple(receiving_rules.ChecklistItem.from_dict(item) for item in row.items)
        for row in repository.checklists(session, merchant_id)
    }
    return receiving_rules.checklist_for(category, overrides)


def set_checklist(
    session: Session, merchant_id: int, category: str, items: Sequence[ChecklistItemIn], *, actor: Actor
) -> receiving_rules.Checklist:
    """Replace the checklist of a category (or of a family: ``jewelry``, ``electronics``,
    ``apparel``) for this shop. At most one weight item."""
    name = _category_key(category)
    if sum(1 for item in items if item.kind == "weight") > 1:
        raise InvalidInput("a checklist has at most one weight item", field="items", code="several_weight_items")
    row = repository.checklist(session, merchant_id, name)
    before = list(row.items) if row else None
    stored = [receiving_rules.ChecklistItem(**item.model_dump()).as_dict() for item in items]
    if row is None:
        row = InspectionChecklist(merchant_id=merchant_id, category=name, items=stored)
        session.add(row)
    else:
        row.items = stored
        row.updated_at = clock.now()
    session.flush()
    audit_service.record(
        session,
        merchant_id=merchant_id,
        subject_type="inspection_checklist",
        subject_id=row.id,
        action="checklist.updated",
        actor=actor,
        before={"category": name, "items": before} if before is not None else None,
        after={"category": name, "items": stored},
    )
    return effective_checklist(session, merchant_id, name)


def reset_checklist(session: Session, merchant_id: int, category: str, *, actor: Actor) -> receiving_rules.Checklist:
    """Drop the shop's checklist for this category: the built-in one applies again."""
    name = _category_key(category)
    row = repository.checklist(session, merchant_id, name)
    if row is not None:
        audit_service.record(
            session,
            merchant_id=merchant_id,
            subject_type="inspection_checklist",
            subject_id=row.id,
            action="checklist.reset",
            actor=actor,
            before={"category": name, "items": list(row.items)},
        )
        session.delete(row)
        session.flush()
    return effective_checklist(session, merchant_id, name)


def _category_key(category: str) -> str:
    name = category.strip().lower()
    if not name or len(name) > 100:
        raise InvalidInput("name a category", field="category", code="invalid_category")
    return name


# --- what the API and the screens show ------------------------------------------------------------


def checklist_out(category: str, checklist: receiving_rules.Checklist) -> ChecklistOut:
    return ChecklistOut(
        category=category,
        name=checklist.name,
        is_shop_override=checklist.is_shop_override,
        items=[ChecklistItemOut(**item.as_dict()) for item in checklist.items],
    )


def describe_units(
    session: Session, merchant_id: int, units: Sequence[InspectionUnit], *, with_checklist: bool = True
) -> list[UnitOut]:
    """Units with their checklist (as asked when inspected, else the one that applies now), their
    location and their listing; a constant number of queries for any number of units."""
    locations = inventory_service.locations_by_ids(
        session, merchant_id, {unit.stock_location_id for unit in units if unit.stock_location_id}
    )
    listings = resale_service.listings_for_units(session, merchant_id, [unit.id for unit in units])
    current: dict[str, receiving_rules.Checklist] = {}
    if with_checklist:
        for category in {unit.category for unit in units if unit.status == "awaiting_inspection"}:
            current[category] = effective_checklist(session, merchant_id, category)
    return [
        _unit_out(
            unit,
            _unit_checklist(unit, current.get(unit.category)) if with_checklist else None,
            locations[unit.stock_location_id].code if unit.stock_location_id in locations else None,
            listings[unit.id].id if unit.id in listings else None,
        )
        for unit in units
    ]


def _unit_checklist(unit: InspectionUnit, current: receiving_rules.Checklist | None) -> ChecklistOut | None:
    asked = unit.checklist_answers.get("checklist")
    if asked:
        checklist = receiving_rules.Checklist(
            asked["name"],
            tuple(receiving_rules.ChecklistItem.from_dict(item) for item in asked["items"]),
            bool(asked.get("is_shop_override")),
        )
        return checklist_out(unit.category, checklist)
    return checklist_out(unit.category, current) if current else None


def _unit_out(
    unit: InspectionUnit, checklist: ChecklistOut | None, location_code: str | None, listing_id: int | None
) -> UnitOut:
    findings = unit.checklist_answers.get("findings", [])
    return UnitOut(
        id=unit.id,
        return_id=unit.return_request_id,
        return_line_id=unit.return_line_id,
        sku=unit.sku,
        title=unit.title,
        category=unit.category,
        status=unit.status,
        grade=unit.grade,
        checklist=checklist,
        answers=dict(unit.checklist_answers.get("answers", {})),
        findings=[TextOut(rule_id=f["rule_id"], en=f["en"], fr=f["fr"]) for f in findings],
        measured_weight_grams=_grams(unit.measured_weight_milligrams),
        expected_weight_grams=_grams(unit.expected_weight_milligrams),
        photos=list(unit.photos),
        notes=unit.notes,
        inspector=unit.inspector_label,
        inspected_at=clock.as_utc(unit.inspected_at) if unit.inspected_at else None,
        accepted=unit.accepted,
        rejection_reason=TextOut(**unit.rejection_reason) if unit.rejection_reason else None,
        disposition=unit.disposition,
        disposition_reason=TextOut(**unit.disposition_reason) if unit.disposition_reason else None,
        disposition_overridden=unit.disposition_overridden,
        final_disposition=unit.final_disposition,
        stock_location_code=location_code,
        listing_id=listing_id,
        disposed_at=clock.as_utc(unit.disposed_at) if unit.disposed_at else None,
    )


def _grams(milligrams: int | None) -> Decimal | None:
    return None if milligrams is None else Decimal(milligrams).scaleb(-3).normalize()


def describe_scan(session: Session, merchant_id: int, result: ScanResult) -> ScanOut:
    request, order, shipment = result.request, result.order, result.shipment
    weights = [line.expected_weight_grams for line in result.lines if line.remaining_quantity > 0]
    known = all(weight is not None for weight in weights) and bool(weights)
    return ScanOut(
        return_id=request.id,
        number=request.number,
        status=request.status,
        order_number=order.number,
        customer_name=order.customer_name,
        customer_email=order.email,
        resolution=request.resolution,
        matched_by="tracking_number" if result.matched_by == "tracking_number" else "rma_number",
        shipment=_shipment_out(shipment) if shipment else None,
        lines=[
            ExpectedLineOut(
                return_line_id=item.line.id,
                sku=item.order_line.sku,
                title=item.order_line.title,
                category=item.order_line.category,
                reason_code=item.line.reason_code,
                approved_quantity=item.line.approved_quantity,
                received_quantity=item.line.received_quantity,
                remaining_quantity=item.remaining_quantity,
                expected_weight_grams=item.expected_weight_grams,
            )
            for item in result.lines
        ],
        expected_weight_grams=sum(
            (item.expected_weight_grams or 0) * item.remaining_quantity
            for item in result.lines
            if item.remaining_quantity > 0
        )
        if known
        else None,
        units=describe_units(session, merchant_id, result.units, with_checklist=False),
    )


def _shipment_out(shipment: Shipment) -> ShipmentOut:
    return ShipmentOut(
        id=shipment.id,
        method=shipment.method,
        carrier=shipment.carrier,
        tracking_number=shipment.tracking_number,
        status=shipment.status,
    )


def describe_receipt(session: Session, merchant_id: int, receipt: Receipt) -> ReceiptOut:
    request = return_request_service.get_return(session, merchant_id, receipt.return_request_id)
    units = [
        unit
        for unit in repository.units_of_return(session, merchant_id, receipt.return_request_id)
        if unit.receipt_line_id in {line.id for line in receipt.lines}
    ]
    return ReceiptOut(
        id=receipt.id,
        return_id=receipt.return_request_id,
        return_status=request.status,
        outcome=receipt.outcome,
        weight_grams=receipt.weight_grams,
        shipment_id=receipt.shipment_id,
        notes=receipt.notes,
        received_by=receipt.received_by_label,
        created_at=clock.as_utc(receipt.created_at),
        units=describe_units(session, merchant_id, units),
    )


def queue_counts_out(counts: QueueCounts) -> QueueCountsOut:
    return QueueCountsOut(**asdict(counts))
