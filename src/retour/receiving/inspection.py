"""The inspection bench: grade each received unit against its checklist, accept or reject it,
propose a disposition from the rules (overridable with a reason), carry it out (restock, resale
listing, workshop queue, or recorded), and complete the return when every unit is done.

Split from ``receiving.service`` (parcels, queues, settings, checklists) for size. Every writer
locks the return, then the unit's line, then the unit. Services flush, never commit; restocking
never touches money."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy.orm import Session

from retour.catalog import service as catalog_service
from retour.inventory import service as inventory_service
from retour.kit import clock
from retour.kit.actor import Actor
from retour.kit.errors import Conflict, InvalidInput, NotFound
from retour.kit.money import Money
from retour.models import InspectionUnit, ResaleListing, ReturnLine, ReturnRequest
from retour.outbox import service as outbox_service
from retour.receiving import repository
from retour.receiving import rules as receiving_rules
from retour.receiving import service as receiving_service
from retour.resale import service as resale_service
from retour.return_request import service as return_request_service

# --- inspection -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Locked:
    unit: InspectionUnit
    line: ReturnLine | None
    request: ReturnRequest


def _lock_unit(session: Session, merchant_id: int, unit_id: int) -> _Locked:
    """Lock the return, then the unit's line, then the unit: the order every warehouse writer uses."""
    peek = repository.get_unit(session, merchant_id, unit_id)
    if peek is None:
        raise NotFound("no such unit")
    request = return_request_service.get_return(session, merchant_id, peek.return_request_id, lock=True)
    line = None
    if peek.return_line_id is not None:
        line = repository.lock_return_line(session, merchant_id, peek.return_line_id)
    unit = repository.get_unit(session, merchant_id, unit_id, lock=True)
    assert unit is not None  # units are never deleted while their return exists
    return _Locked(unit, line, request)


NOT_IN_RETURN = receiving_rules.Explanation(
    "not_in_return",
    "This item is not part of the return.",
    "Cet article ne fait pas partie du retour.",
)


def record_inspection(
    session: Session,
    merchant_id: int,
    unit_id: int,
    *,
    grade: str,
    answers: dict[str, bool],
    actor: Actor,
    measured_weight_grams: Decimal | None = None,
    notes: str = "",
    photos: Sequence[str] = (),
) -> InspectionUnit:
    """Inspect one unit: grade it, answer its category's checklist, weigh it when the checklist
    asks. Accepts or rejects it (a rejection carries its reason for the customer), adds it to the
    line's accepted or rejected quantity, and proposes a disposition from the rules. Refused with
    nothing written if the unit was already inspected (409) or the checklist is incomplete (422).
    When the last awaited unit of the return is inspected, the customer is told (outbox
    ``return.inspected``)."""
    locked = _lock_unit(session, merchant_id, unit_id)
    unit, line, request = locked.unit, locked.line, locked.request
    if unit.status != "awaiting_inspection":
        raise Conflict("this unit has already been inspected", code="already_inspected", extra={"status": unit.status})
    settings = receiving_service.warehouse_settings(session, merchant_id)
    checklist = receiving_service.effective_checklist(session, merchant_id, unit.category)
    expected = _catalogue_weight(session, merchant_id, unit.sku)
    try:
        result = receiving_rules.evaluate_inspection(
            checklist,
            answers,
            grade,
            measured_weight_grams,
            expected,
            tolerance=receiving_rules.WeightTolerance(
                settings.weight_tolerance_percent, settings.weight_tolerance_minimum_grams
            ),
        )
    except receiving_rules.WarehouseRefusal as refused:
        raise InvalidInput(refused.en, field=refused.field, code=refused.code, extra={"fr": refused.fr}) from None
    if line is None:
        result = replace(result, accepted=False, reason=NOT_IN_RETURN)
    disposition, why = receiving_rules.evaluate_disposition(
        grade,
        line.reason_code if line else "",
        unit.category,
        [receiving_rules.DispositionRule.from_dict(rule.model_dump()) for rule in settings.disposition_rules],
        accepted=result.accepted,
    )
    _apply_inspection(unit, result, checklist, answers, grade, measured_weight_grams, expected)
    unit.notes, unit.photos = notes[:2000], [str(photo)[:500] for photo in photos]
    unit.inspector_id, unit.inspector_label, unit.inspected_at = actor.id, actor.label, clock.now()
    unit.disposition, unit.disposition_reason = disposition, why.as_dict()
    if line is not None:
        if result.accepted:
            line.accepted_quantity += 1
        else:
            line.rejected_quantity += 1
    session.flush()
    _record_inspection(session, request, unit, actor)
    return unit


def _apply_inspection(
    unit: InspectionUnit,
    result: receiving_rules.InspectionResult,
    checklist: receiving_rules.Checklist,
    answers: dict[str, bool],
    grade: str,
    measured: Decimal | None,
    expected: Decimal | None,
) -> None:
    unit.status = "inspected"
    unit.grade = grade
    unit.accepted = result.accepted
    unit.rejection_reason = result.reason.as_dict() if result.reason else None
    unit.measured_weight_milligrams = _milligrams(measured)
    unit.expected_weight_milligrams = _milligrams(expected)
    unit.checklist_answers = {
        "checklist": {
            "name": checklist.name,
            "is_shop_override": checklist.is_shop_override,
            "items": [item.as_dict() for item in checklist.items],
        },
        "answers": dict(answers),
        "findings": [{"rule_id": f.code, "en": f.en, "fr": f.fr, "rejects": f.rejects} for f in result.findings],
        "weight_status": result.weight.status if result.weight else None,
        "notes": [note.as_dict() for note in result.notes],
    }


def _record_inspection(session: Session, request: ReturnRequest, unit: InspectionUnit, actor: Actor) -> None:
    receiving_service.record(
        session,
        request,
        "return.inspected",
        actor,
        after={
            "unit_id": unit.id,
            "return_line_id": unit.return_line_id,
            "sku": unit.sku,
            "grade": unit.grade,
            "accepted": unit.accepted,
            "rejection_reason": unit.rejection_reason,
            "disposition": unit.disposition,
            "weight_status": unit.checklist_answers.get("weight_status"),
        },
    )
    waiting = repository.count_unfinished_units(session, request.merchant_id, request.id)
    if not waiting.get("awaiting_inspection"):
        outbox_service.enqueue(
            session,
            merchant_id=request.merchant_id,
            topic="return.inspected",
            payload={"return_id": request.id, "number": request.number},
        )


def _catalogue_weight(session: Session, merchant_id: int, sku: str) -> Decimal | None:
    """The catalogue weight in grams, exact to the milligram (a 3.4 g ring is 3.4, not 3); a
    missing or zero weight is unknown (the weight is then not checked)."""
    found = catalog_service.find_variants(session, merchant_id, [sku]).get(sku)
    milligrams = found[0].weight_mg if found else None
    return Decimal(milligrams).scaleb(-3) if milligrams else None


def _milligrams(grams: Decimal | None) -> int | None:
    if grams is None:
        return None
    return int((grams * 1000).to_integral_value(rounding=ROUND_HALF_EVEN))


# --- dispositions ---------------------------------------------------------------------------------


def override_disposition(
    session: Session, merchant_id: int, unit_id: int, *, disposition: str, reason: str, actor: Actor
) -> InspectionUnit:
    """The inspector replaces the proposed disposition, with a reason (kept on the unit and in the
    audit trail). A rejected unit cannot be sent back to stock or to resale (409)."""
    locked = _lock_unit(session, merchant_id, unit_id)
    unit = locked.unit
    _override(unit, disposition, reason)
    before = {"disposition": unit.disposition, "disposition_reason": unit.disposition_reason}
    unit.disposition = disposition
    unit.disposition_overridden = True
    unit.disposition_reason = {"rule_id": "override", "en": reason.strip(), "fr": reason.strip()}
    unit.updated_at = clock.now()
    session.flush()
    receiving_service.record(
        session,
        locked.request,
        "return.disposition_overridden",
        actor,
        before={"unit_id": unit.id, **before},
        after={"unit_id": unit.id, "disposition": disposition, "reason": reason.strip()},
    )
    return unit


def _override(unit: InspectionUnit, disposition: str, reason: str | None) -> None:
    if unit.status != "inspected":
        raise Conflict(
            "only an inspected unit waiting for its disposition can be changed",
            code="not_awaiting_disposition",
            extra={"status": unit.status},
        )
    if disposition not in receiving_rules.DISPOSITIONS:
        raise InvalidInput(f"unknown disposition '{disposition}'", field="disposition", code="unknown_disposition")
    if not reason or len(reason.strip()) < 3:
        raise InvalidInput("say why the disposition is changed", field="reason", code="reason_required")
    if disposition in receiving_rules.NEEDS_ACCEPTED and not unit.accepted:
        raise Conflict("a rejected unit cannot go back to stock or on sale", field="disposition", code="unit_rejected")


def dispose_unit(
    session: Session,
    merchant_id: int,
    unit_id: int,
    *,
    actor: Actor,
    disposition: str | None = None,
    reason: str | None = None,
    location_code: str | None = None,
) -> InspectionUnit:
    """Apply the unit's disposition, first replacing it when ``disposition`` differs from the
    proposed one (``reason`` then required). What the inspection screen's one button does.
    Everything is checked before anything is written: a refusal leaves the unit as it was."""
    if disposition is not None:
        current = receiving_service.get_unit(session, merchant_id, unit_id)
        if disposition != current.disposition:
            _override(current, disposition, reason)  # check before writing anything
            if location_code is not None:
                inventory_service.get_location(session, merchant_id, location_code)
            override_disposition(
                session, merchant_id, unit_id, disposition=disposition, reason=reason or "", actor=actor
            )
    return apply_disposition(session, merchant_id, unit_id, actor=actor, location_code=location_code)


def apply_disposition(
    session: Session, merchant_id: int, unit_id: int, *, actor: Actor, location_code: str | None = None
) -> InspectionUnit:
    """Carry out an inspected unit's disposition. ``restock``/``repackage_and_restock``: a restock
    movement at ``location_code``, or at the shop's fixed location, or where the SKU's demand is
    highest, and the line's restocked quantity + 1. ``resell_second_hand``: a resale listing.
    ``repair``/``refurbish``: the unit waits in the workshop queue (see ``complete_repair``).
    Others are recorded (with the location holding the unit when given). When every unit of the
    return is done and nothing more is expected, the return is completed. Money is not touched."""
    locked = _lock_unit(session, merchant_id, unit_id)
    unit = locked.unit
    if unit.status != "inspected":
        raise Conflict(
            "this unit is not waiting for its disposition",
            code="not_awaiting_disposition",
            extra={"status": unit.status},
        )
    assert unit.disposition is not None
    if unit.disposition in receiving_rules.WORKSHOP:
        unit.status = "in_repair" if unit.disposition == "repair" else "in_refurbishment"
        unit.updated_at = clock.now()
        session.flush()
        receiving_service.record(
            session, locked.request, "return.sent_to_workshop", actor, after={"unit_id": unit.id, "queue": unit.status}
        )
        return unit
    return _finish(session, locked, unit.disposition, actor, location_code)


def complete_repair(
    session: Session,
    merchant_id: int,
    unit_id: int,
    *,
    final_disposition: str,
    actor: Actor,
    grade: str | None = None,
    location_code: str | None = None,
    notes: str = "",
) -> InspectionUnit:
    """A unit comes back from repair or refurbishment: optionally regraded, then given its final
    disposition (anything but another workshop trip), carried out as ``apply_disposition`` does."""
    locked = _lock_unit(session, merchant_id, unit_id)
    unit = locked.unit
    if unit.status not in ("in_repair", "in_refurbishment"):
        raise Conflict("this unit is not in the workshop", code="not_in_workshop", extra={"status": unit.status})
    if final_disposition not in receiving_rules.DISPOSITIONS or final_disposition in receiving_rules.WORKSHOP:
        raise InvalidInput(
            "choose where the unit goes now (not back to the workshop)",
            field="final_disposition",
            code="invalid_final_disposition",
        )
    if final_disposition in receiving_rules.NEEDS_ACCEPTED and not unit.accepted:
        raise Conflict(
            "a rejected unit cannot go back to stock or on sale", field="final_disposition", code="unit_rejected"
        )
    if grade is not None and (grade not in receiving_rules.GRADES or grade in ("wrong_item", "missing")):
        raise InvalidInput(f"'{grade}' is not a condition after repair", field="grade", code="invalid_grade")
    before = {"unit_id": unit.id, "status": unit.status, "grade": unit.grade}
    unit.grade = grade or unit.grade
    if notes.strip():
        unit.notes = f"{unit.notes}\n{notes.strip()}".strip()[:2000]
    unit.status = "inspected"  # back on the bench for its final disposition
    session.flush()
    receiving_service.record(
        session,
        locked.request,
        "return.workshop_done",
        actor,
        before=before,
        after={"unit_id": unit.id, "grade": unit.grade},
    )
    return _finish(session, locked, final_disposition, actor, location_code)


def _finish(session: Session, locked: _Locked, final: str, actor: Actor, location_code: str | None) -> InspectionUnit:
    unit, line, request = locked.unit, locked.line, locked.request
    merchant_id = request.merchant_id
    details: dict[str, object] = {}
    if final in receiving_rules.RESTOCKING:
        if line is None or not unit.accepted:
            raise Conflict("only an accepted unit of the return can be restocked", code="unit_rejected")
        restocked = inventory_service.restock_unit(
            session,
            merchant_id,
            sku=unit.sku,
            return_line_id=line.id,
            inspection_unit_id=unit.id,
            actor=actor,
            location_code=location_code,
            fixed_location=receiving_service.warehouse_settings(session, merchant_id).restock_location,
        )
        line.restocked_quantity += 1
        unit.stock_location_id = restocked.location.id
        details = {"location": restocked.location.code, "movement_id": restocked.movement.id}
        if restocked.choice is not None:
            details["routing"] = {
                "rule_id": restocked.choice.rule_id,
                "en": restocked.choice.en,
                "fr": restocked.choice.fr,
            }
    elif final == "resell_second_hand":
        details = {"listing_id": _list_for_resale(session, locked, actor).id}
    elif location_code is not None:
        unit.stock_location_id = inventory_service.get_location(session, merchant_id, location_code).id
        details = {"location": location_code.strip().upper()}
    now = clock.now()
    unit.final_disposition, unit.status, unit.disposed_at, unit.updated_at = final, "done", now, now
    session.flush()
    receiving_service.record(
        session,
        request,
        "return.disposed",
        actor,
        after={"unit_id": unit.id, "sku": unit.sku, "disposition": final, **details},
    )
    _complete_if_done(session, request, actor)
    return unit


def _list_for_resale(session: Session, locked: _Locked, actor: Actor) -> ResaleListing:
    unit, line, request = locked.unit, locked.line, locked.request
    if line is None or not unit.accepted or unit.grade is None:
        raise Conflict("only an accepted unit of the return can be resold", code="unit_rejected")
    _, order_lines = return_request_service.context_for(session, request.merchant_id, [request])
    order_line = order_lines[line.order_line_id]
    found = catalog_service.find_variants(session, request.merchant_id, [unit.sku]).get(unit.sku)
    # The price it sells for new today; the price at order time when the catalogue does not know it.
    if found and found[0].currency == request.currency and found[0].price_amount > 0:
        original = Money(found[0].price_amount, request.currency)
    else:
        original = Money(order_line.unit_price_amount, request.currency)
    return resale_service.create_listing(
        session,
        request.merchant_id,
        inspection_unit_id=unit.id,
        sku=unit.sku,
        title=unit.title,
        grade=unit.grade,
        original=original,
        inspection_notes=unit.notes,
        photos=list(unit.photos),
        actor=actor,
        discounts=receiving_service.warehouse_settings(session, request.merchant_id).resale_discounts,
    )


def _complete_if_done(session: Session, request: ReturnRequest, actor: Actor) -> None:
    """Everything approved has arrived, and every unit that arrived has its final disposition."""
    if request.status != "in_progress":
        return
    if any(line.received_quantity < line.approved_quantity for line in request.lines):
        return
    if repository.count_unfinished_units(session, request.merchant_id, request.id):
        return
    return_request_service.complete_return(session, request.merchant_id, request.id, actor=actor)
