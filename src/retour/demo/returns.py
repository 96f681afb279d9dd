"""Demo returns in every state, made the way real ones are: through ``return_request.service``
under a clock moved back to when they happened, so that numbers, quotes, audit events and outbox
rows are all real. What follows an approval (label, carrier scans, receiving, inspection,
disposition, expiry) goes through the shipment and warehouse services too (see ``journey``).

Nothing is settled: there is no refund or exchange service yet, so completed returns have their
units accepted, restocked or disposed of, and nothing refunded or exchanged."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from retour.demo import journey as demo_journey
from retour.demo.people import VIP_EMAIL
from retour.demo.policy import HIGH_VALUE_AMOUNT, LABEL_VALIDITY_DAYS
from retour.kit import clock
from retour.kit.actor import Actor
from retour.models import Order, OrderLine, ReturnRequest
from retour.order import service as order_service
from retour.policy.schemas import Method, Resolution
from retour.return_request import service as return_service
from retour.return_request.schemas import ReturnIn, ReturnLineIn

STATUSES = ("requested", "approved", "rejected", "cancelled", "in_progress", "completed", "expired")
_SHARES = {
    "completed": 40,
    "in_progress": 14,
    "approved": 13,
    "requested": 8,
    "rejected": 6,
    "cancelled": 9,
    "expired": 10,
}
RETURN_RATE = 0.11
LABEL_DAYS = LABEL_VALIDITY_DAYS
"""An approved return not shipped within this many days expires (with its label)."""
_REVIEWED = frozenset({"requested", "rejected"})
# When the request was made, in days before now, for each final status.
_AGE = {
    "requested": (0.05, 5),
    "rejected": (3, 60),
    "approved": (1.5, 8),
    "cancelled": (4, 60),
    "in_progress": (2, 14),
    "completed": (9, 90),
    "expired": (LABEL_DAYS + 1, 90),
}


@dataclass(frozen=True)
class Staff:
    agent: Actor
    warehouse: Actor


@dataclass(frozen=True)
class _Context:
    session: Session
    merchant_id: int
    staff: Staff
    rng: random.Random
    variant_ids: dict[str, int]
    """SKU → variant id, so that a ring can be exchanged for the next size."""
    journey: demo_journey.Journey


@dataclass(frozen=True)
class _Plan:
    status: str
    order: Order
    at: datetime
    reviewed: bool
    ring: bool = False
    """The return to scan at the warehouse right after the load: a ring, its parcel delivered."""
    resale: bool = False
    """The return whose piece came back damaged and is listed for resale."""


@dataclass
class Made:
    """How many returns ended in each status, and the RMA number of the one to scan now."""

    counts: Counter[str]
    scan_number: str | None = None


def plan_counts(order_count: int) -> dict[str, int]:
    """How many returns of each status the demo makes: about 11% of orders, at least one of each."""
    total = max(len(STATUSES) * 2, round(order_count * RETURN_RATE))
    counts = {status: max(1, total * share // 100) for status, share in _SHARES.items()}
    counts["completed"] += total - sum(counts.values())
    return counts


def create_returns(
    session: Session,
    merchant_id: int,
    orders: list[Order],
    *,
    staff: Staff,
    variant_ids: dict[str, int],
    now: datetime,
    rng: random.Random,
    progress: Callable[[int], None] = lambda total: None,
) -> Made:
    """Create the demo returns, oldest first, each one all the way to its status before the next.
    ``progress`` is called once with the number planned, then with 0 after each one."""
    journey = demo_journey.Journey(session, merchant_id, staff.warehouse, rng, now)
    context = _Context(session, merchant_id, staff, rng, variant_ids, journey)
    plans = sorted(_plan(orders, now=now, rng=rng), key=lambda plan: plan.at)
    progress(len(plans))
    made = Made(Counter())
    for plan in plans:
        request = _request(context, plan)
        if request is not None:
            _follow_up(context, request, plan)
            made.counts[request.status] += 1
            if plan.ring and request.status == "approved":
                made.scan_number = request.number
        progress(0)
    return made


def _plan(orders: list[Order], *, now: datetime, rng: random.Random) -> Iterator[_Plan]:
    delivered = [_Candidate.of(order) for order in orders if order.delivered_at is not None]
    pools: dict[tuple[str, bool], list[_Slot]] = {}
    used: set[int] = set()
    counts = plan_counts(len(orders))
    # The most constrained first: reviews need a high-value item delivered recently enough.
    for status in sorted(STATUSES, key=lambda s: (s not in _REVIEWED, s != "expired")):
        for index in range(counts[status]):
            reviewed = status in _REVIEWED or (status in ("approved", "completed") and rng.random() < 0.2)
            if (status, reviewed) not in pools:
                pools[status, reviewed] = _slots(delivered, status=status, reviewed=reviewed, now=now)
            pool = pools[status, reviewed] = [slot for slot in pools[status, reviewed] if slot[0].id not in used]
            ring = status == "approved" and index == min(1, counts[status] - 1)
            if ring:
                pool = [slot for slot in pool if _has_ring(slot[0], reviewed=reviewed)] or pool
            if pool:
                plan = _pick(
                    pool, status=status, reviewed=reviewed, rng=rng, prefer_vip=status == "approved" and index == 0
                )
                used.add(plan.order.id)
                yield replace(plan, ring=ring, resale=status == "completed" and index == 0)


@dataclass(frozen=True)
class _Candidate:
    order: Order
    delivered_at: datetime
    latest: datetime
    has_regular: bool
    has_high_value: bool

    @classmethod
    def of(cls, order: Order) -> _Candidate:
        assert order.delivered_at is not None
        delivered_at = clock.as_utc(order.delivered_at)
        kinds = {_unit_paid(line) >= HIGH_VALUE_AMOUNT for line in order.lines if not line.is_final_sale}
        # 28 days after delivery is inside every window; the VIP has 60.
        latest = delivered_at + timedelta(days=58 if order.email == VIP_EMAIL else 28)
        return cls(order, delivered_at, latest, False in kinds, True in kinds)


_Slot = tuple[Order, datetime, datetime]
"""An order that fits a status, and the span in which its return can have been asked for."""


def _slots(orders: list[_Candidate], *, status: str, reviewed: bool, now: datetime) -> list[_Slot]:
    low, high = (now - timedelta(days=days) for days in reversed(_AGE[status]))
    slots = []
    for item in orders:
        if item.has_high_value if reviewed else item.has_regular:
            start, end = max(low, item.delivered_at + timedelta(hours=2)), min(high, item.latest)
            if start < end:
                slots.append((item.order, start, end))
    return slots


def _pick(pool: list[_Slot], *, status: str, reviewed: bool, rng: random.Random, prefer_vip: bool) -> _Plan:
    vip = [slot for slot in pool if slot[0].email == VIP_EMAIL]
    if prefer_vip and vip:  # the VIP's oldest delivery: only the 60-day rule keeps it open
        order, _start, end = min(vip, key=lambda slot: slot[1])
        at = end - timedelta(hours=1)
    else:
        order, start, end = rng.choice(pool)
        at = start + (end - start) * rng.random()
    return _Plan(status, order, at.replace(microsecond=0), reviewed)


def _has_ring(order: Order, *, reviewed: bool) -> bool:
    return any(
        line.category == "rings" and not line.is_final_sale and (_unit_paid(line) >= HIGH_VALUE_AMOUNT) == reviewed
        for line in order.lines
    )


def _unit_paid(line: OrderLine) -> int:
    return order_service.line_paid_amount(line) // line.quantity


# ---- The request itself --------------------------------------------------------------------------

_REASONS = {
    "rings": (("too_small", 34), ("too_large", 28), ("changed_mind", 14), ("not_as_described", 8), ("damaged", 5)),
    "other": (("changed_mind", 34), ("colour_different", 14), ("not_as_described", 14), ("arrived_late", 6)),
}
_COMMON_REASONS = (("defective", 5), ("wrong_item", 3), ("better_price", 3), ("other", 3))
_COMMENTS = {
    "too_small": ("Un peu juste, je fais plutôt du {up}.", "Trop serrée sur l'annulaire.", ""),
    "too_large": ("Elle tourne sur le doigt, il me faudrait un {down}.", "Trop grande.", ""),
    "changed_mind": ("Finalement elle ne me va pas au teint.", "Cadeau qui ne plaît pas, désolée !", ""),
    "not_as_described": ("Plus petit que ce que laissaient penser les photos.", ""),
    "colour_different": ("L'or est plus jaune que sur le site.", "La pierre est plus pâle qu'en photo."),
    "damaged": ("Le fermoir est arrivé tordu.", "Une griffe est relevée, la pierre bouge."),
    "defective": ("Le fermoir s'est cassé au bout de deux jours.", "La chaîne a noirci après une semaine."),
    "wrong_item": ("J'ai reçu de l'argent au lieu de l'or jaune.", "Ce n'est pas la taille commandée."),
    "arrived_late": ("Arrivé après l'anniversaire.", ""),
    "better_price": ("", "Vu moins cher en boutique."),
    "other": ("", "Je préfère un autre modèle de la collection."),
}


def _request(context: _Context, plan: _Plan) -> ReturnRequest | None:
    """Ask for the return as the customer would have, at ``plan.at``. None if nothing fits."""
    session, merchant_id, rng = context.session, context.merchant_id, context.rng
    with clock.frozen(plan.at):
        evaluation = return_service.evaluate_order(session, merchant_id, plan.order)
        wanted = "needs_review" if plan.reviewed else "eligible"
        lines = [item for item in evaluation.lines if item.decision.status == wanted and item.decision.is_returnable]
        if not lines:
            return None
        chosen = rng.sample(lines, k=2 if len(lines) > 1 and rng.random() < 0.2 else 1)
        rings = [item for item in lines if item.line.category == "rings"]
        if plan.ring and rings and not any(item in rings for item in chosen):
            chosen = [rings[0]]
        resolutions = set.intersection(*(set(item.decision.resolutions) for item in chosen))
        methods = set.intersection(*(set(item.decision.methods) for item in chosen))
        items = [_line_in(context, item.line, item.decision.returnable_quantity) for item in chosen]
        resolution = _resolution(resolutions, items, rng)
        if resolution != "exchange":
            items = [item.model_copy(update={"exchange_variant_id": None}) for item in items]
        method = _method(methods, rng)
        if plan.ring and "prepaid_label" in methods:
            method = "prepaid_label"
        data = ReturnIn(order_id=plan.order.id, resolution=resolution, method=method, lines=items)
        actor = Actor("customer", str(plan.order.customer_id), plan.order.email)
        request = return_service.request_return(session, merchant_id, data, actor=actor, channel="portal")
        session.flush()
        return request


_SIZES = ("48", "50", "52", "54", "56", "58", "60")


def _line_in(context: _Context, line: OrderLine, returnable: int) -> ReturnLineIn:
    rng = context.rng
    weights = _REASONS["rings" if line.category == "rings" else "other"] + _COMMON_REASONS
    reason = rng.choices([code for code, _ in weights], weights=[weight for _, weight in weights])[0]
    size = str(line.attributes.get("taille", ""))
    up, down = _neighbour(size, 1), _neighbour(size, -1)
    comment = rng.choice(_COMMENTS[reason]).format(up=up or "60", down=down or "48")
    exchange_sku = {"too_small": up, "too_large": down}.get(reason)
    return ReturnLineIn(
        order_line_id=line.id,
        quantity=returnable if returnable == 1 or rng.random() < 0.7 else 1,
        reason_code=reason,
        comment=comment,
        exchange_variant_id=_variant_id(context, line, size, exchange_sku) if exchange_sku else None,
    )


def _neighbour(size: str, step: int) -> str | None:
    if size not in _SIZES:
        return None
    index = _SIZES.index(size) + step
    return _SIZES[index] if 0 <= index < len(_SIZES) else None


def _variant_id(context: _Context, line: OrderLine, size: str, other_size: str) -> int | None:
    if not line.sku.endswith(f"-{size}"):
        return None
    return context.variant_ids.get(line.sku[: -len(size)] + other_size)


def _resolution(allowed: set[Resolution], items: list[ReturnLineIn], rng: random.Random) -> Resolution:
    if "exchange" in allowed and all(item.exchange_variant_id for item in items) and rng.random() < 0.7:
        return "exchange"
    choices: list[Resolution] = [option for option in ("refund", "store_credit") if option in allowed]
    if not choices:
        return sorted(allowed)[0]
    return rng.choices(choices, weights=[65, 35][: len(choices)])[0]


def _method(allowed: set[Method], rng: random.Random) -> Method:
    weights = {"prepaid_label": 55, "drop_off": 25, "home_pickup": 30, "in_store": 8, "customer_ships": 5}
    options = sorted(allowed)
    return rng.choices(options, weights=[weights.get(option, 1) for option in options])[0]


# ---- What happened next --------------------------------------------------------------------------

_REJECT_NOTES = (
    "Traces d'usure visibles sur les photos : la bague a été portée.",
    "Pièce ajustée par un autre bijoutier : retour impossible.",
    "Demande hors délai pour cette pièce de valeur.",
)


def _follow_up(context: _Context, request: ReturnRequest, plan: _Plan) -> None:
    session, merchant_id, staff, rng = context.session, context.merchant_id, context.staff, context.rng
    at = plan.at
    if request.status == "requested" and plan.status != "requested":
        at += timedelta(hours=rng.randint(3, 30))
        with clock.frozen(at):
            if plan.status == "rejected":
                return_service.reject_return(
                    session, merchant_id, request.id, actor=staff.agent, note=rng.choice(_REJECT_NOTES)
                )
            else:
                return_service.approve_return(
                    session, merchant_id, request.id, actor=staff.agent, note="Pièce vérifiée, retour assuré."
                )
            session.flush()
    if plan.status == "cancelled":
        actor = Actor("customer", str(request.customer_id), plan.order.email)
        demo_journey.cancel(
            context.journey, request, approved_at=at, at=at + timedelta(hours=rng.randint(5, 60)), actor=actor
        )
    elif plan.status in demo_journey.AFTER_APPROVAL:
        demo_journey.follow(
            context.journey,
            request,
            status=plan.status,
            approved_at=at,
            expires_at=at + timedelta(days=LABEL_DAYS),
            delivered=plan.ring,
            resale=plan.resale,
        )
