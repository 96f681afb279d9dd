"""Warehouse JSON routes: scan, receive a parcel, inspect and dispose of each unit, the queues,
the checklists and the shop's warehouse settings. Each route calls one service function."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query

from retour.api import problems
from retour.api.deps import DbSession, Reader, Writer
from retour.receiving import inspection, service
from retour.receiving.schemas import (
    MAX_ID,
    ChecklistIn,
    ChecklistOut,
    DispositionIn,
    InspectionIn,
    QueueCountsOut,
    ReceiptIn,
    ReceiptOut,
    RepairDoneIn,
    ScanOut,
    UnitOut,
    UnitPageOut,
    WarehouseSettings,
)
from retour.return_request import service as return_request_service
from retour.return_request.schemas import ReturnPage

router = APIRouter(tags=["warehouse"])
ReturnId = Annotated[int, Path(ge=1, le=MAX_ID)]
UnitId = Annotated[int, Path(ge=1, le=MAX_ID)]
Category = Annotated[str, Path(min_length=1, max_length=100)]


@router.get("/warehouse/scan/{code}", response_model=ScanOut, responses=problems.responses(404))
def scan(code: Annotated[str, Path(min_length=1, max_length=200)], session: DbSession, caller: Reader) -> ScanOut:
    """Open the return behind a scanned code: the label's barcode or the RMA number (``R-000123``),
    the label's QR code, or a tracking number. Shows what is still expected, line by line."""
    result = service.find_return_for_scan(session, caller.merchant_id, code)
    return service.describe_scan(session, caller.merchant_id, result)


@router.post(
    "/returns/{return_id}/receipts",
    status_code=201,
    response_model=ReceiptOut,
    responses=problems.responses(404, 409),
)
def receive(return_id: ReturnId, data: ReceiptIn, session: DbSession, caller: Writer) -> ReceiptOut:
    """Record one parcel: units received per return line, unexpected items, the parcel's weight.
    Answers the inspection units created (one per unit). 409 when a line would receive more than
    was approved (``quantity_exceeds_expected``) or the return cannot receive (``not_receivable``)."""
    receipt = service.receive_parcel(
        session,
        caller.merchant_id,
        return_id,
        actor=caller.actor,
        lines=[(line.return_line_id, line.quantity) for line in data.lines],
        unexpected=[(item.sku, item.quantity) for item in data.unexpected],
        weight_grams=data.weight_grams,
        outcome=data.outcome,
        shipment_id=data.shipment_id,
        notes=data.notes,
    )
    return service.describe_receipt(session, caller.merchant_id, receipt)


@router.get("/returns/{return_id}/inspection-units", response_model=list[UnitOut], responses=problems.responses(404))
def return_units(return_id: ReturnId, session: DbSession, caller: Reader) -> list[UnitOut]:
    """Every unit received for the return, with its inspection and disposition."""
    units = service.units_of_return(session, caller.merchant_id, return_id)
    return service.describe_units(session, caller.merchant_id, units)


@router.get("/inspection-units", response_model=UnitPageOut)
def list_units(
    session: DbSession,
    caller: Reader,
    queue: Literal["to_inspect", "to_dispose", "workshop", "done"] = "to_inspect",
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> UnitPageOut:
    """A warehouse queue, oldest first: units to inspect, to dispose of, in the workshop, done."""
    page = service.list_units(
        session, caller.merchant_id, statuses=service.UNIT_QUEUES[queue], cursor=cursor, limit=limit
    )
    return UnitPageOut(
        items=service.describe_units(session, caller.merchant_id, page.items), next_cursor=page.next_cursor
    )


@router.get("/inspection-units/{unit_id}", response_model=UnitOut, responses=problems.responses(404))
def get_unit(unit_id: UnitId, session: DbSession, caller: Reader) -> UnitOut:
    """One unit with the checklist to answer (or the one it was inspected with)."""
    unit = service.get_unit(session, caller.merchant_id, unit_id)
    return service.describe_units(session, caller.merchant_id, [unit])[0]


@router.post("/inspection-units/{unit_id}/inspection", response_model=UnitOut, responses=problems.responses(404, 409))
def inspect(unit_id: UnitId, data: InspectionIn, session: DbSession, caller: Writer) -> UnitOut:
    """Grade the unit and answer its checklist (weigh it when asked). Answers whether it is accepted
    (with the reason for the customer when not) and the proposed disposition."""
    unit = inspection.record_inspection(
        session,
        caller.merchant_id,
        unit_id,
        grade=data.grade,
        answers=data.answers,
        actor=caller.actor,
        measured_weight_grams=data.measured_weight_grams,
        notes=data.notes,
        photos=data.photos,
    )
    return service.describe_units(session, caller.merchant_id, [unit])[0]


@router.post("/inspection-units/{unit_id}/disposition", response_model=UnitOut, responses=problems.responses(404, 409))
def dispose(unit_id: UnitId, data: DispositionIn, session: DbSession, caller: Writer) -> UnitOut:
    """Carry out the unit's disposition: the proposed one, or another with a ``reason``. Restocking
    goes to ``location_code``, else the shop's fixed location, else where demand is highest."""
    unit = inspection.dispose_unit(
        session,
        caller.merchant_id,
        unit_id,
        actor=caller.actor,
        disposition=data.disposition,
        reason=data.reason,
        location_code=data.location_code,
    )
    return service.describe_units(session, caller.merchant_id, [unit])[0]


@router.post(
    "/inspection-units/{unit_id}/repair-completion",
    response_model=UnitOut,
    responses=problems.responses(404, 409),
)
def repair_done(unit_id: UnitId, data: RepairDoneIn, session: DbSession, caller: Writer) -> UnitOut:
    """A unit back from repair or refurbishment: its condition now, and its final disposition."""
    unit = inspection.complete_repair(
        session,
        caller.merchant_id,
        unit_id,
        final_disposition=data.final_disposition,
        actor=caller.actor,
        grade=data.grade,
        location_code=data.location_code,
        notes=data.notes,
    )
    return service.describe_units(session, caller.merchant_id, [unit])[0]


@router.get("/warehouse/queues", response_model=QueueCountsOut)
def queues(session: DbSession, caller: Reader) -> QueueCountsOut:
    """How much work waits in each warehouse queue."""
    return service.queue_counts_out(service.queue_counts(session, caller.merchant_id))


@router.get("/warehouse/awaiting-parcels", response_model=ReturnPage)
def awaiting_parcels(
    session: DbSession,
    caller: Reader,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> ReturnPage:
    """Approved returns whose parcel has not arrived yet, newest first."""
    page = service.list_awaiting_parcel(session, caller.merchant_id, cursor=cursor, limit=limit)
    return ReturnPage(
        items=return_request_service.describe_returns(session, caller.merchant_id, page.items),
        next_cursor=page.next_cursor,
    )


@router.get("/inspection-checklists/{category}", response_model=ChecklistOut)
def get_checklist(category: Category, session: DbSession, caller: Reader) -> ChecklistOut:
    """The checklist units of this category are inspected with (the shop's own or the built-in one)."""
    return service.checklist_out(category, service.effective_checklist(session, caller.merchant_id, category))


@router.put("/inspection-checklists/{category}", response_model=ChecklistOut)
def put_checklist(category: Category, data: ChecklistIn, session: DbSession, caller: Writer) -> ChecklistOut:
    """Replace the shop's checklist for a category or a family (``jewelry``, ``electronics``,
    ``apparel``)."""
    checklist = service.set_checklist(session, caller.merchant_id, category, data.items, actor=caller.actor)
    return service.checklist_out(category, checklist)


@router.delete("/inspection-checklists/{category}", response_model=ChecklistOut)
def delete_checklist(category: Category, session: DbSession, caller: Writer) -> ChecklistOut:
    """Go back to the built-in checklist for this category."""
    checklist = service.reset_checklist(session, caller.merchant_id, category, actor=caller.actor)
    return service.checklist_out(category, checklist)


@router.get("/warehouse/settings", response_model=WarehouseSettings)
def get_settings(session: DbSession, caller: Reader) -> WarehouseSettings:
    """Disposition rules, resale discounts, fixed restock location and scale tolerance."""
    return service.warehouse_settings(session, caller.merchant_id)


@router.put("/warehouse/settings", response_model=WarehouseSettings, responses=problems.responses(404))
def put_settings(data: WarehouseSettings, session: DbSession, caller: Writer) -> WarehouseSettings:
    """Replace the shop's warehouse settings (404 when the fixed restock location does not exist)."""
    return service.update_warehouse_settings(session, caller.merchant_id, data, actor=caller.actor)
