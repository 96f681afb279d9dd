"""After the return is created: its status page behind a long-lived signed link, cancelling it
before the parcel leaves, and the shop's policy as readable text."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from retour.kit import clock
from retour.kit.actor import Actor
from retour.kit.errors import Conflict, NotFound
from retour.kit.money import Money
from retour.merchant import service as merchant_service
from retour.models import InspectionUnit, Order, Reason, ReturnRequest, Shipment, ShipmentEvent
from retour.order import service as order_service
from retour.photo import service as photo_service
from retour.policy import rules as policy_rules
from retour.policy import service as policy_service
from retour.policy.rules import Explanation
from retour.policy.schemas import Actions, Conditions
from retour.portal.service import ReasonGroup, photo_reasons, reason_groups
from retour.receiving import service as receiving_service
from retour.return_request import rules as return_rules
from retour.return_request import service as return_service
from retour.return_request.rules import Quote, QuoteLine
from retour.return_request.schemas import ReturnOut
from retour.shipment import service as shipment_service
from retour.shipment import tracking

# ---- Status page (C6) and cancellation (C8) ------------------------------------------------------

_STATUS_SALT = "retour.portal.return-status"
SHIPPED_STATUSES = frozenset({"in_transit", "delivered", "received"})
DELIVERED_STATUSES = frozenset({"delivered", "received"})


def status_token(secret_key: str, merchant_id: int, return_id: int) -> str:
    """The long-lived, signed key of a return's status page (the link emails carry). It binds
    the shop and the return; it never expires, so it must never grant more than that page."""
    return URLSafeSerializer(secret_key, salt=_STATUS_SALT).dumps([merchant_id, return_id])


def read_status_token(secret_key: str, merchant_id: int, token: str) -> int:
    """The return id the token was signed for, in this shop; ``NotFound`` for anything else."""
    try:
        payload = URLSafeSerializer(secret_key, salt=_STATUS_SALT).loads(token)
    except BadSignature:
        raise NotFound("no such return") from None
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or not all(isinstance(part, int) for part in payload)
        or payload[0] != merchant_id
    ):
        raise NotFound("no such return")
    return int(payload[1])


@dataclass(frozen=True)
class Step:
    code: str
    done: bool
    at: datetime | None = None


@dataclass(frozen=True)
class StatusPage:
    request: ReturnRequest
    described: ReturnOut
    order: Order
    shipment: Shipment | None
    steps: list[Step]
    can_cancel: bool
    photos: int
    quote: Quote
    store: Any = None
    return_address: list[str] = dataclasses.field(default_factory=list)
    scans: list[ShipmentEvent] = dataclasses.field(default_factory=list)
    """The current parcel's carrier scans, newest first (as carriers show them)."""
    pickup: PickupChoices | None = None
    """The days and slots a home pickup can move to, while the courier has not come."""
    first_parcel: ParcelChoice | None = None
    """What the customer still has to choose for a return approved after review (a pickup slot,
    a store): the choice made while asking may no longer be offered, so it is asked again."""
    inspection: list[LineInspection] = dataclasses.field(default_factory=list)
    """What the warehouse decided, per line that has units received (empty before)."""
    unexpected: list[UnexpectedItem] = dataclasses.field(default_factory=list)
    """Items found in the parcel that are not part of the return (always refused)."""


@dataclass(frozen=True)
class Rejection:
    """Why units were refused, for the customer (in both languages), and how many."""

    en: str
    fr: str
    quantity: int


@dataclass(frozen=True)
class LineInspection:
    """One line as the warehouse saw it: received, accepted and refused units (the line's
    ledger), units still waiting for inspection, and each reason a unit was refused."""

    order_line_id: int
    title: str
    received: int
    accepted: int
    rejected: int
    rejections: list[Rejection]

    @property
    def awaiting(self) -> int:
        return max(0, self.received - self.accepted - self.rejected)


@dataclass(frozen=True)
class UnexpectedItem:
    title: str
    quantity: int
    rejections: list[Rejection]


@dataclass(frozen=True)
class ParcelChoice:
    method: str
    pickup: PickupChoices | None = None
    stores: list[Any] = dataclasses.field(default_factory=list)


@dataclass(frozen=True)
class PickupChoices:
    days: list[date]
    slots: list[str]


def status_page(session: Session, merchant_id: int, return_id: int) -> StatusPage:
    request = return_service.get_return(session, merchant_id, return_id)
    described = return_service.describe_returns(session, merchant_id, [request], with_timeline=True)[0]
    shipments = shipment_service.list_shipments(session, merchant_id, request.id)
    shipment = shipments[-1] if shipments else None
    events = [(event.action, event.at) for event in described.timeline or []]
    for parcel in shipments:
        events += [
            (event.action, event.created_at) for event in shipment_service.timeline(session, merchant_id, parcel)
        ]
    order = order_service.get_order(session, merchant_id, request.order_id)
    merchant = merchant_service.get_merchant(session, merchant_id)
    store = None
    if shipment is not None and shipment.store_code:
        store = next((s for s in shipment_service.stores_for(session, merchant) if s.code == shipment.store_code), None)
    return StatusPage(
        request=request,
        described=described,
        order=order,
        shipment=shipment,
        steps=progress(request, shipment, events),
        can_cancel=_can_cancel(request, shipments),
        photos=len(photo_service.photos_of_return(session, merchant_id, request.id)),
        quote=stored_quote(request.quote, request.currency),
        store=store,
        return_address=shipment_service.return_address_for(session, merchant, order.country).printable_lines()
        if shipment is not None and shipment.method == "customer_ships"
        else [],
        scans=list(reversed(tracking.events_of(session, merchant_id, shipment.id))) if shipment is not None else [],
        pickup=pickup_choices(shipment) if shipment is not None and _can_reschedule(request, shipment) else None,
        first_parcel=_first_parcel(session, request, shipments, merchant),
        **_inspection(session, merchant_id, request, described),
    )


def _inspection(session: Session, merchant_id: int, request: ReturnRequest, described: ReturnOut) -> dict[str, Any]:
    if not any(line.received_quantity for line in request.lines):
        return {}
    units = receiving_service.units_of_return(session, merchant_id, request.id)
    lines, unexpected = inspection_outcomes(request, described, units)
    return {"inspection": lines, "unexpected": unexpected}


def inspection_outcomes(
    request: ReturnRequest, described: ReturnOut, units: list[InspectionUnit]
) -> tuple[list[LineInspection], list[UnexpectedItem]]:
    """Per line with units received: the quantities of its ledger and the reasons its refused
    units carry (the same reason told once, with its count, in the order first met). Items not
    part of the return are grouped by SKU with their reasons."""
    titles = {line.id: line.title for line in described.lines}
    lines = [
        LineInspection(
            line.order_line_id,
            titles.get(line.id, ""),
            line.received_quantity,
            line.accepted_quantity,
            line.rejected_quantity,
            _rejections(unit for unit in units if unit.return_line_id == line.id),
        )
        for line in sorted(request.lines, key=lambda line: line.id)
        if line.received_quantity
    ]
    extra: dict[str, list[InspectionUnit]] = {}
    for unit in units:
        if unit.return_line_id is None:
            extra.setdefault(unit.sku, []).append(unit)
    unexpected = [UnexpectedItem(found[0].title or sku, len(found), _rejections(found)) for sku, found in extra.items()]
    return lines, unexpected


def _rejections(units: Iterable[InspectionUnit]) -> list[Rejection]:
    counted: dict[tuple[str, str], int] = {}
    for unit in units:
        if unit.accepted is False and unit.rejection_reason:
            key = (str(unit.rejection_reason.get("en", "")), str(unit.rejection_reason.get("fr", "")))
            counted[key] = counted.get(key, 0) + 1
    return [Rejection(en, fr, quantity) for (en, fr), quantity in counted.items()]


def _first_parcel(
    session: Session, request: ReturnRequest, shipments: list[Shipment], merchant: Any
) -> ParcelChoice | None:
    if request.status != "approved" or any(parcel.status != "cancelled" for parcel in shipments):
        return None
    if request.method == "home_pickup":
        offered = shipment_service.pickup_slots(clock.now().date())
        days = list(dict.fromkeys(slot.date for slot in offered))
        return ParcelChoice("home_pickup", pickup=PickupChoices(days, list(dict.fromkeys(s.slot for s in offered))))
    if request.method == "in_store":
        return ParcelChoice("in_store", stores=shipment_service.stores_for(session, merchant))
    return None


def create_first_parcel(
    session: Session,
    merchant_id: int,
    return_id: int,
    *,
    pickup_date: str,
    pickup_slot: str,
    store_code: str,
    actor: Actor,
    storage_dir: Path | None = None,
    language: str | None = None,
) -> Shipment:
    """The customer's choice for a return approved after review: its pickup slot or its store
    (the label in ``language``, the page's).
    Only while the return waits for that choice (``Conflict`` ``parcel_exists`` otherwise); a slot
    or store not offered is ``InvalidInput`` naming the field."""
    # Locked before deciding: the same form sent twice at once must not make two parcels.
    request = return_service.get_return(session, merchant_id, return_id, lock=True)
    shipments = shipment_service.list_shipments(session, merchant_id, request.id)
    merchant = merchant_service.get_merchant(session, merchant_id)
    if _first_parcel(session, request, shipments, merchant) is None:
        raise Conflict("this return needs no choice from you now", code="parcel_exists")
    try:
        day: date | None = date.fromisoformat(pickup_date)
    except ValueError:
        day = None
    return shipment_service.create_shipment(
        session,
        merchant_id,
        request,
        method=request.method,
        pickup_date=day,
        pickup_slot=pickup_slot or None,
        store_code=store_code or None,
        actor=actor,
        storage_dir=storage_dir,
        defer_carrier=True,
        language=language,
    )


def pickup_choices(shipment: Shipment) -> PickupChoices:
    """The offered days and slots (today's offer), for the form that moves a pickup."""
    offered = shipment_service.pickup_slots(clock.now().date())
    return PickupChoices(
        days=list(dict.fromkeys(slot.date for slot in offered)),
        slots=list(dict.fromkeys(slot.slot for slot in offered)),
    )


def _can_reschedule(request: ReturnRequest, shipment: Shipment) -> bool:
    return (
        shipment.method == "home_pickup"
        and shipment.status == "label_created"
        and request.status in shipment_service.LABEL_STATUSES
    )


def reschedule_pickup(
    session: Session,
    merchant_id: int,
    return_id: int,
    shipment_id: int,
    *,
    pickup_date: str,
    pickup_slot: str,
    actor: Actor,
) -> Shipment:
    """Move the pickup of one of this return's parcels to another offered slot. A parcel of
    another return (or shop) is ``NotFound``; a day that is not a date is no day at all
    (``InvalidInput`` on ``pickup_date``); the rest is ``tracking.reschedule_pickup``'s to decide."""
    try:
        day: date | None = date.fromisoformat(pickup_date)
    except ValueError:
        day = None
    return tracking.reschedule_pickup(
        session,
        merchant_id,
        shipment_id,
        pickup_date=day,
        pickup_slot=pickup_slot or None,
        actor=actor,
        return_id=return_id,
    )


def stored_quote(raw: dict[str, Any], currency: str) -> Quote:
    """The quote recorded on the return, back as the value the pages render."""

    def money(key: str, source: dict[str, Any] = raw) -> Money:
        return Money(int(source.get(key) or 0), currency)

    lines = tuple(
        QuoteLine(
            int(line["order_line_id"]),
            int(line["quantity"]),
            money("item_amount", line),
            money("tax_amount", line),
            money("restocking_fee_amount", line),
        )
        for line in raw.get("lines", [])
    )
    return Quote(
        currency,
        str(raw.get("resolution", "")),
        lines,
        money("items_amount"),
        money("tax_amount"),
        money("restocking_fee_amount"),
        money("return_shipping_fee_amount"),
        money("shipping_refund_amount"),
        money("bonus_amount"),
        money("total_amount"),
    )


_STEP_EVENTS = {
    "requested": ("return.requested",),
    "approved": ("return.approved",),
    "label_created": ("shipment.created", "shipment.label_created"),
    "in_transit": ("shipment.in_transit",),
    "delivered": ("shipment.delivered",),
    "received": ("shipment.received", "return.received", "receiving."),
    "inspected": ("inspection.", "return.inspected"),
    "settled": ("refund.succeeded", "store_credit.issued", "exchange.", "settlement.", "return.completed"),
}


def progress(request: ReturnRequest, shipment: Shipment | None, events: list[tuple[str, datetime]]) -> list[Step]:
    """Where the return stands, step by step, from the timeline and the quantities. A step is
    done when its event was recorded or when a later fact proves it (a received line was
    necessarily in transit)."""
    at: dict[str, datetime] = {}
    for action, when in sorted(events, key=lambda item: clock.as_utc(item[1])):
        for code, prefixes in _STEP_EVENTS.items():
            if code not in at and any(action == p or (p.endswith(".") and action.startswith(p)) for p in prefixes):
                at[code] = when
    lines = request.lines
    facts = {
        "requested": True,
        "approved": request.approved_at is not None,
        "label_created": shipment is not None and shipment.status not in ("cancelled", "label_pending", "label_failed"),
        "in_transit": shipment is not None and shipment.status in SHIPPED_STATUSES,
        "delivered": shipment is not None and shipment.status in DELIVERED_STATUSES,
        "received": any(line.received_quantity for line in lines)
        or (shipment is not None and shipment.status == "received"),
        "inspected": any(line.accepted_quantity + line.rejected_quantity for line in lines),
        "settled": request.status == "completed"
        or any(line.refunded_quantity + line.exchanged_quantity for line in lines),
    }
    known = {"requested": request.created_at, "approved": request.approved_at}
    if shipment is not None:
        known["label_created"] = shipment.created_at
    steps: list[Step] = []
    later_done = False
    for code in reversed(list(_STEP_EVENTS)):
        done = later_done or facts[code] or code in at
        later_done = later_done or (done and code not in ("label_created",))
        steps.append(Step(code, done, at.get(code) or known.get(code)))
    return list(reversed(steps))


def _can_cancel(request: ReturnRequest, shipments: list[Shipment]) -> bool:
    shipped = any(parcel.status in SHIPPED_STATUSES for parcel in shipments)
    received = any(line.received_quantity for line in request.lines)
    return "cancel" in return_rules.allowed_events(request.status) and not shipped and not received


def cancel_return(session: Session, merchant_id: int, return_id: int, *, actor: Actor) -> ReturnRequest:
    """Cancel on the customer's behalf while the parcel has not left; its label is voided.
    Once the carrier has it: ``Conflict`` (``already_shipped``)."""
    request = return_service.get_return(session, merchant_id, return_id)
    shipments = shipment_service.list_shipments(session, merchant_id, request.id)
    if not _can_cancel(request, shipments):
        if any(parcel.status in SHIPPED_STATUSES for parcel in shipments) or any(
            line.received_quantity for line in request.lines
        ):
            raise Conflict("the parcel is already on its way: it can no longer be cancelled", code="already_shipped")
        raise Conflict("this return can no longer be cancelled", code="invalid_transition")
    cancelled = return_service.cancel_return(
        session, merchant_id, return_id, actor=actor, note="cancelled by the customer"
    )
    for parcel in shipments:
        if parcel.status in shipment_service.CANCELLABLE_STATUSES:
            shipment_service.cancel_shipment(session, merchant_id, parcel, actor=actor)
    return cancelled


# ---- Policy page (P8) ----------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleText:
    text: Explanation
    when: Explanation | None
    """When the rule applies, if it has conditions."""


@dataclass(frozen=True)
class PolicyText:
    version: int
    defaults: Explanation
    rules: list[RuleText]
    reasons: list[ReasonGroup]
    photo_reasons: frozenset[str]


def policy_text(session: Session, merchant_id: int, currency: str) -> PolicyText:
    """The shop's active policy as sentences, in English and French: the general terms first,
    then each rule in the order it applies. The same text the portal shows under each item."""
    active = policy_service.get_active(session, merchant_id)
    defaults = active.document.defaults
    general = Actions(
        window_days=defaults.window_days,
        window_from=defaults.window_from,
        resolutions=list(defaults.resolutions),
        methods=list(defaults.methods),
        restocking_fee_percent=defaults.restocking_fee_percent or None,
        restocking_fee_amount=defaults.restocking_fee_amount or None,
        return_shipping_fee_amount=defaults.return_shipping_fee_amount,
        bonus_credit_percent=defaults.bonus_credit_percent or None,
        photos_required=defaults.photos_required or None,
        manual_review=not defaults.auto_approve or None,
    )
    en, fr = policy_rules.describe_actions(general, currency)
    reasons = [reason for reason in policy_service.list_reasons(session, merchant_id) if reason.is_active]
    return PolicyText(
        version=active.version,
        defaults=Explanation("defaults", _sentence(en), _sentence(fr)),
        rules=[
            RuleText(policy_rules.explain_rule(rule, currency), describe_conditions(rule.when, reasons, currency))
            for rule in active.document.rules
        ],
        reasons=reason_groups(reasons),
        photo_reasons=photo_reasons(active.document, reasons),
    )


def describe_conditions(when: Conditions, reasons: list[Reason], currency: str) -> Explanation | None:
    """When a rule applies, in words a customer understands (reasons by their label)."""
    labels = {reason.code: (reason.label_en, reason.label_fr) for reason in reasons}
    en: list[str] = []
    fr: list[str] = []

    def add(english: str, french: str) -> None:
        en.append(english)
        fr.append(french)

    if when.reasons:
        names = [labels.get(code, (code, code)) for code in when.reasons]
        add("reason: " + _either([n[0] for n in names], "or"), "motif : " + _either([n[1] for n in names], "ou"))
    if when.categories:
        add("categories: " + ", ".join(when.categories), "catégories : " + ", ".join(when.categories))
    if when.tags_any:
        add("products tagged " + ", ".join(when.tags_any), "produits marqués " + ", ".join(when.tags_any))
    if when.is_final_sale is not None:
        add(
            *(
                ("final-sale items", "articles en vente définitive")
                if when.is_final_sale
                else ("regular items", "articles hors vente définitive")
            )
        )
    if when.is_discounted is not None:
        add(
            *(
                ("items bought on sale", "articles achetés en promotion")
                if when.is_discounted
                else ("full-price items", "articles à prix plein")
            )
        )
    if when.unit_price_gte is not None:
        amount = Money(when.unit_price_gte, currency)
        add(f"items from {amount.format('en')}", f"articles à partir de {amount.format('fr')}")
    if when.unit_price_lt is not None:
        amount = Money(when.unit_price_lt, currency)
        add(f"items under {amount.format('en')}", f"articles de moins de {amount.format('fr')}")
    if when.customer_tags_any:
        add("customers " + ", ".join(when.customer_tags_any), "clients " + ", ".join(when.customer_tags_any))
    if when.customer_segment_in:
        add(*policy_rules.describe_segments(when.customer_segment_in))
    if when.countries:
        add("delivered to " + ", ".join(when.countries), "livrés en " + ", ".join(when.countries))
    if when.order_placed_between_month_days is not None:
        start, end = when.order_placed_between_month_days
        add(
            f"orders placed between {start} and {end} (month-day)",
            f"commandes passées entre le {start} et le {end} (mois-jour)",
        )
    if when.days_since_delivery_gt is not None:
        add(
            f"more than {when.days_since_delivery_gt} days after delivery",
            f"plus de {when.days_since_delivery_gt} jours après la livraison",
        )
    if when.earlier_returns_gte is not None:
        add(f"from the {when.earlier_returns_gte + 1}th return", f"à partir du {when.earlier_returns_gte + 1}e retour")
    if not en:
        return None
    return Explanation("when", "When: " + "; ".join(en) + ".", "Quand : " + " ; ".join(fr) + ".")


def _either(items: list[str], conjunction: str) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" {conjunction} " + items[-1]


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:] + "."


def return_of_order(session: Session, merchant_id: int, return_id: int, order_id: int | None) -> ReturnRequest:
    """A return the portal session may open: one of its own order's. Anything else: ``NotFound``."""
    request = return_service.get_return(session, merchant_id, return_id)
    if order_id is None or request.order_id != order_id:
        raise NotFound("no such return")
    return request


def actor_for_return(session: Session, merchant_id: int, return_id: int) -> Actor:
    """The customer, as the audit trail records them, acting through the status page."""
    request = return_service.get_return(session, merchant_id, return_id)
    order = order_service.get_order(session, merchant_id, request.order_id)
    if request.gift_recipient_email:
        return Actor("customer", None, f"{request.gift_recipient_email} (gift recipient)")
    return Actor("customer", str(order.customer_id), order.customer_name or order.email)


def _current_shipment(session: Session, merchant_id: int, return_id: int) -> Shipment:
    return_service.get_return(session, merchant_id, return_id)
    shipments = [s for s in shipment_service.list_shipments(session, merchant_id, return_id) if s.status != "cancelled"]
    if not shipments:
        raise NotFound("this return has no parcel yet")
    return shipments[-1]


def label_pdf(session: Session, merchant_id: int, return_id: int, *, storage_dir: Any) -> bytes:
    shipment = _current_shipment(session, merchant_id, return_id)
    return bytes(shipment_service.get_label_pdf(session, merchant_id, shipment, storage_dir=storage_dir))


def packing_slip_pdf(session: Session, merchant_id: int, return_id: int, *, language: str) -> bytes:
    """The packing slip in the page's language (the status link the customer keeps carries the
    language they confirmed in)."""
    request = return_service.get_return(session, merchant_id, return_id)
    return bytes(shipment_service.render_packing_slip_pdf(session, merchant_id, request, language=language))


def drop_off_qr_png(session: Session, merchant_id: int, return_id: int) -> bytes:
    shipment = _current_shipment(session, merchant_id, return_id)
    return bytes(shipment_service.drop_off_qr_png(shipment))
