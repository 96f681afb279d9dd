"""What happens to a demo return once it is approved, through the services a real one goes through,
under a clock moved back to when each step happened: the label the worker makes after approval
(``shipment.service``), the carrier's scans (``shipment.tracking``), the parcel received at the
warehouse (``receiving.service``), each unit inspected against its checklist and disposed of
(``receiving.inspection``: restock movements in the ledger, resale listings, the workshop), and
the label that expired unused (``shipment.tracking.expire_labels``).

So the warehouse screens, the stock on hand, the resale listings and the returns' ledgers of the
demo agree, exactly as they would in a shop that had been running for a few months."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from sqlalchemy.orm import Session

from retour.catalog import service as catalog_service
from retour.kit import clock
from retour.kit.actor import Actor
from retour.merchant import service as merchant_service
from retour.models import InspectionUnit, ReturnRequest, Shipment
from retour.receiving import inspection
from retour.receiving import service as receiving_service
from retour.return_request import service as return_service
from retour.shipment import carriers, documents, tracking
from retour.shipment import service as shipment_service
from retour.shipment.tasks import AUTOMATIC_METHODS

_WORKER = Actor.system("Retour")
PACKAGING_GRAMS = 38
"""The case and the box a piece travels in, on the parcel's scale."""
Stage = Literal["label", "in_transit", "delivered", "received", "inspected", "disposed", "workshop", "completed"]
Finding = Literal["as_new", "open_box", "worn", "damaged", "broken", "defective", "substitute"]


@dataclass(frozen=True)
class Journey:
    session: Session
    merchant_id: int
    warehouse: Actor
    rng: random.Random
    now: datetime


@contextmanager
def _at(journey: Journey, when: datetime) -> Iterator[None]:
    """Run a step at ``when``: rows are stamped when they are flushed, so flush before leaving."""
    with clock.frozen(when):
        yield
        journey.session.flush()


# ---- The parcel -----------------------------------------------------------------------------------


@contextmanager
def _drawn_when_downloaded() -> Iterator[None]:
    """Labels made meanwhile are recorded without their PDF file. The stored file is only a cache:
    ``shipment.service.get_label_pdf`` draws a built-in label from its parcel's row (same data,
    same bytes) when the file is missing, so each is drawn on its first download. Drawing the
    labels of months of returns now would double the load time (a tenth of a second each)."""
    draw = documents.render_label_pdf
    documents.render_label_pdf = _undrawn
    try:
        yield
    finally:
        documents.render_label_pdf = draw


def _undrawn(data: documents.LabelData) -> bytes:
    return b""


def make_label(journey: Journey, request: ReturnRequest, at: datetime, *, pickup: bool) -> Shipment | None:
    """The parcel the worker makes right after approval (``shipment.tasks.create_label_after_approval``):
    a label for the methods that need no choice, the shop's only store for a return in store. A
    home pickup waits for the customer's slot, unless ``pickup`` (the customer chose the first one).
    The label's PDF is drawn on its first download."""
    session, merchant_id = journey.session, journey.merchant_id
    with _at(journey, at), _drawn_when_downloaded():
        store_code, pickup_date, pickup_slot = None, None, None
        if request.method == "in_store":
            stores = shipment_service.stores_for(session, merchant_service.get_merchant(session, merchant_id))
            if len(stores) != 1:
                return None
            store_code = stores[0].code
        elif request.method == "home_pickup":
            if not pickup:
                return None
            slot = shipment_service.pickup_slots(at.date())[0]
            pickup_date, pickup_slot = slot.date, slot.slot
        elif request.method not in AUTOMATIC_METHODS:
            return None
        return shipment_service.create_shipment(
            session,
            merchant_id,
            request,
            method=request.method,
            store_code=store_code,
            pickup_date=pickup_date,
            pickup_slot=pickup_slot,
            actor=_WORKER,
        )


def carry(journey: Journey, shipment: Shipment, *, shipped_at: datetime, delivered_at: datetime | None) -> None:
    """The carrier's scans of a parcel that has a tracking number: taken over, then delivered."""
    number = shipment.tracking_number
    if not number:
        return
    steps = [(shipped_at, "in_transit", "Colis pris en charge", "Plateforme Colissimo")]
    if delivered_at is not None:
        steps.append((delivered_at, "delivered", "Colis livré au destinataire", "Entrepôt Maison Lune"))
    events = [
        carriers.TrackingEvent(
            at=at,
            status=status,
            description=text,
            external_id=tracking.scan_id(number, status, at, text),
            location=where,
            tracking_number=number,
        )
        for at, status, text, where in steps
    ]
    with _at(journey, steps[-1][0] + timedelta(minutes=3)):
        tracking.record_scans(journey.session, journey.merchant_id, shipment.id, events, source="demo")


def expire(journey: Journey, request: ReturnRequest, shipment: Shipment | None, *, at: datetime) -> None:
    """Nothing was sent back: the label expires unused and the return with it (the worker's
    ``expire_labels``); a return with no label (a pickup never booked) expires at ``at``."""
    if shipment is not None and shipment.label_expires_at is not None:
        when = clock.as_utc(shipment.label_expires_at) + timedelta(minutes=journey.rng.randint(5, 50))
        with _at(journey, when):
            tracking.expire_labels(journey.session, journey.merchant_id, now=when)
        return
    with _at(journey, at):
        return_service.expire_return(
            journey.session, journey.merchant_id, request.id, actor=_WORKER, note="nothing was sent back in time"
        )


# ---- The warehouse --------------------------------------------------------------------------------


def receive(journey: Journey, request: ReturnRequest, shipment: Shipment | None, *, at: datetime) -> None:
    """The parcel on the warehouse's bench, weighed, with everything that was approved in it."""
    session, merchant_id = journey.session, journey.merchant_id
    with _at(journey, at):
        expected = receiving_service.expected_lines(session, merchant_id, request)
        weights = [item.expected_weight_grams for item in expected]
        weight = None
        if all(weights):
            weight = round(
                PACKAGING_GRAMS
                + sum((w or 0) * item.remaining_quantity for w, item in zip(weights, expected, strict=True))
            )
        receiving_service.receive_parcel(
            session,
            merchant_id,
            request.id,
            actor=journey.warehouse,
            lines=[(item.line.id, item.remaining_quantity) for item in expected if item.remaining_quantity],
            weight_grams=weight,
            shipment_id=shipment.id if shipment else None,
        )


def units(journey: Journey, request: ReturnRequest) -> list[InspectionUnit]:
    return receiving_service.units_of_return(journey.session, journey.merchant_id, request.id)


_NOTES: dict[Finding, str] = {
    "as_new": "",
    "open_box": "Écrin ouvert, pièce comme neuve.",
    "worn": "Légères traces de port sur l'anneau.",
    "damaged": "Rayures visibles sur le métal, une griffe légèrement relevée.",
    "broken": "Fermoir cassé, à reprendre à l'atelier.",
    "defective": "Défaut de fabrication : la soudure a lâché.",
    "substitute": "Poids très inférieur à la fiche : pièce à expertiser.",
}
_GRADES: dict[Finding, str] = {
    "as_new": "new",
    "open_box": "open_box",
    "worn": "used",
    "damaged": "lightly_damaged",
    "broken": "heavily_damaged",
    "defective": "defective",
    "substitute": "new",
}
_FAILED: dict[Finding, tuple[str, ...]] = {
    "worn": ("metal",),
    "damaged": ("metal", "stone_setting"),
    "broken": ("clasp",),
    "defective": ("clasp",),
}


def finding_for(reason_code: str, rng: random.Random) -> Finding:
    """What the inspector finds, given what the customer said."""
    options: dict[Finding, int]
    if reason_code == "damaged":
        options = {"damaged": 60, "broken": 40}
    elif reason_code == "defective":
        options = {"defective": 70, "broken": 30}
    else:
        options = {"as_new": 80, "open_box": 12, "worn": 5, "substitute": 3}
    return rng.choices(list(options), weights=list(options.values()))[0]


def inspect(journey: Journey, unit: InspectionUnit, finding: Finding, *, at: datetime) -> InspectionUnit:
    """Grade the unit and answer its checklist (weighing it on the precision scale when asked)."""
    session, merchant_id = journey.session, journey.merchant_id
    with _at(journey, at):
        checklist = receiving_service.effective_checklist(session, merchant_id, unit.category)
        answers = {
            item.code: item.passing != (item.code in _FAILED.get(finding, ()))
            for item in checklist.items
            if item.kind == "check"
        }
        measured = None
        expected = _catalogue_grams(journey, unit.sku)
        if expected is not None and any(item.kind == "weight" for item in checklist.items):
            share = Decimal("0.55") if finding == "substitute" else Decimal(1)
            noise = Decimal(journey.rng.randint(-4, 4)) / 100
            measured = (expected * share + noise).quantize(Decimal("0.01"))
        return inspection.record_inspection(
            session,
            merchant_id,
            unit.id,
            grade=_GRADES[finding],
            answers=answers,
            measured_weight_grams=measured,
            notes=_NOTES[finding],
            actor=journey.warehouse,
        )


def _catalogue_grams(journey: Journey, sku: str) -> Decimal | None:
    found = catalog_service.find_variants(journey.session, journey.merchant_id, [sku]).get(sku)
    return Decimal(found[0].weight_grams) if found and found[0].weight_grams else None


def dispose(journey: Journey, unit: InspectionUnit, *, at: datetime, location_code: str | None) -> InspectionUnit:
    """Carry out the proposed disposition: back to stock (at ``location_code``, else where the
    shop's routing sends it), on sale second-hand, to the workshop, to the supplier, in quarantine."""
    with _at(journey, at):
        return inspection.apply_disposition(
            journey.session, journey.merchant_id, unit.id, actor=journey.warehouse, location_code=location_code
        )


def repair(journey: Journey, unit: InspectionUnit, *, at: datetime, location_code: str | None) -> InspectionUnit:
    """Back from the workshop as good as new (clasp replaced, stones reset), then back to stock."""
    with _at(journey, at):
        return inspection.complete_repair(
            journey.session,
            journey.merchant_id,
            unit.id,
            final_disposition="restock",
            grade="open_box",
            location_code=location_code,
            notes="Repris à l'atelier : fermoir remplacé, pierres resserties, poli.",
            actor=journey.warehouse,
        )


# ---- A return's whole story -----------------------------------------------------------------------

AFTER_APPROVAL = frozenset({"approved", "expired", "in_progress", "completed"})
"""The statuses a demo return reaches through its parcel and the warehouse."""
_STEP_HOURS = {
    "label": (0.02, 0.1),
    "shipped": (10, 40),
    "delivered": (24, 72),
    "received": (2, 20),
    "inspected": (1, 30),
    "disposed": (0.5, 5),
    "repaired": (72, 190),
}


def schedule(start: datetime, now: datetime, rng: random.Random) -> dict[str, datetime]:
    """When each step happened, in order, from ``start`` (the approval); squeezed to end a
    quarter of an hour before ``now`` when the return is too recent for the usual delays."""
    hours = {step: rng.uniform(low, high) for step, (low, high) in _STEP_HOURS.items()}
    room = (now - timedelta(minutes=15) - start).total_seconds() / 3600
    scale = min(1.0, room / sum(hours.values()))
    times, at = {}, start
    for step, spent in hours.items():
        at += timedelta(hours=spent * scale)
        times[step] = at.replace(microsecond=0)
    return times


def cancel(journey: Journey, request: ReturnRequest, *, approved_at: datetime, at: datetime, actor: Actor) -> None:
    """The customer keeps the piece after all: the return is cancelled before anything left, and its
    label voided (what the worker does on ``return.cancelled``)."""
    shipment = make_label(journey, request, approved_at + timedelta(minutes=2), pickup=False)
    with _at(journey, at):
        return_service.cancel_return(
            journey.session, journey.merchant_id, request.id, actor=actor, note="Finalement je la garde !"
        )
        if shipment is not None:
            shipment_service.cancel_shipment(journey.session, journey.merchant_id, shipment, actor=_WORKER)


def follow(
    journey: Journey,
    request: ReturnRequest,
    *,
    status: str,
    approved_at: datetime,
    expires_at: datetime,
    delivered: bool = False,
    resale: bool = False,
) -> None:
    """Take an approved return to ``status``: its label, then (``approved``) left as it is, in
    transit or delivered (``delivered`` forces that), or (``expired``) never sent, or received at
    the warehouse and (``in_progress``) partly or (``completed``) wholly inspected and disposed of.
    With ``resale``, the first unit came back damaged and is listed for resale."""
    rng = journey.rng
    times = schedule(approved_at, journey.now, rng)
    goes_on = status in ("in_progress", "completed")
    shipment = make_label(journey, request, times["label"], pickup=goes_on)
    if status == "expired":
        expire(journey, request, shipment, at=expires_at)
        return
    stage: Stage = "completed"
    if status == "approved":
        stage = "delivered" if delivered else rng.choices(("label", "in_transit", "delivered"), weights=(4, 4, 2))[0]
    elif status == "in_progress":
        stage = rng.choices(("received", "inspected", "disposed", "workshop"), weights=(45, 30, 15, 10))[0]
    if shipment is not None and stage != "label":
        carry(
            journey,
            shipment,
            shipped_at=times["shipped"],
            delivered_at=times["delivered"] if stage != "in_transit" else None,
        )
    if goes_on:
        receive(journey, request, shipment, at=times["received"])
        store = shipment.store_code if shipment is not None else None
        _work(journey, request, stage, times, location_code=store, resale=resale)


def _work(
    journey: Journey,
    request: ReturnRequest,
    stage: Stage,
    times: dict[str, datetime],
    *,
    location_code: str | None,
    resale: bool,
) -> None:
    """Inspect the units (up to ``stage``), then dispose of them: all of them for a completed return
    (those sent to the workshop come back and are restocked), all but the last for ``disposed``,
    only the first, found broken and sent to the workshop, for ``workshop``."""
    if stage == "received":
        return
    found = units(journey, request)
    reasons = {line.id: line.reason_code for line in request.lines}
    for index, unit in enumerate(found):
        finding: Finding = finding_for(reasons.get(unit.return_line_id or 0, ""), journey.rng)
        if index == 0 and (resale or stage == "workshop"):
            finding = "damaged" if resale else "broken"
        inspect(journey, unit, finding, at=times["inspected"] + timedelta(minutes=4 * index))
    if stage == "inspected":
        return
    last = {"disposed": len(found) - 1, "workshop": 1}.get(stage, len(found))
    for index, unit in enumerate(found[:last]):
        done = dispose(journey, unit, at=times["disposed"] + timedelta(minutes=2 * index), location_code=location_code)
        if stage == "completed" and done.status in ("in_repair", "in_refurbishment"):
            repair(journey, done, at=times["repaired"] + timedelta(minutes=index), location_code=location_code)
