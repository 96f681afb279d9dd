"""Return requests (RMAs): ask, approve, reject, cancel, and read them back with their timeline.

``request_return`` is the one way a return is born, from the API, the portal or the back-office.
It locks the order so that two requests racing for the last unit cannot both win."""

from __future__ import annotations

import base64
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from retour.audit import service as audit_service
from retour.catalog import service as catalog_service
from retour.kit import clock, ids
from retour.kit.actor import Actor
from retour.kit.errors import Conflict, InvalidInput, NotFound, Refused
from retour.merchant import service as merchant_service
from retour.models import Order, OrderLine, Reason, ReturnLine, ReturnRequest
from retour.order import service as order_service
from retour.outbox import service as outbox_service
from retour.policy import rules as policy_rules
from retour.policy import service as policy_service
from retour.policy.schemas import PolicyDocument
from retour.return_request import repository
from retour.return_request import rules as return_rules
from retour.return_request.repository import ReturnFilters
from retour.return_request.schemas import (
    QuoteOut,
    ReturnableLineOut,
    ReturnableOut,
    ReturnIn,
    ReturnLineIn,
    ReturnLineOut,
    ReturnOut,
    TextOut,
    TimelineEventOut,
)

SUBJECT = "return_request"
KEEP_ALIVE = "retour.keep_alive"


@dataclass(frozen=True)
class LineEvaluation:
    line: OrderLine
    decision: policy_rules.LineDecision


@dataclass(frozen=True)
class OrderEvaluation:
    order: Order
    policy_version: int
    policy: PolicyDocument
    lines: list[LineEvaluation]

    def for_line(self, order_line_id: int) -> LineEvaluation | None:
        return next((item for item in self.lines if item.line.id == order_line_id), None)


def evaluate_order(
    session: Session,
    merchant_id: int,
    order: Order,
    *,
    reasons: dict[int, str] | None = None,
    draft: PolicyDocument | None = None,
    reason_rows: list[Reason] | None = None,
) -> OrderEvaluation:
    """Run the policy (the active one, or a draft for a dry run) over every line of the order.
    ``reason_rows``: the shop's reasons when the caller has just read them (saves reading them twice)."""
    active = policy_service.get_active(session, merchant_id)
    policy = draft or active.document
    held = repository.held_quantities(session, merchant_id, [line.id for line in order.lines])
    if reasons and reason_rows is None:
        reason_rows = policy_service.list_reasons(session, merchant_id)
    ancestry = policy_service.reason_ancestry(reason_rows) if reasons and reason_rows is not None else {}
    found = repository.customer_with_return_count(session, merchant_id, order.customer_id)
    if found is None:
        raise NotFound("no such customer")
    customer, earlier_returns, orders_count = found
    facts = policy_rules.OrderFacts(
        placed_on=clock.as_utc(order.placed_at).date(),
        shipped_on=clock.as_utc(order.shipped_at).date() if order.shipped_at else None,
        delivered_on=clock.as_utc(order.delivered_at).date() if order.delivered_at else None,
        country=order.country,
        currency=order.currency,
        customer_tags=frozenset(customer.tags),
        earlier_returns=earlier_returns,
        orders_count=orders_count,
    )
    today = clock.now().date()
    evaluations = []
    for line in order.lines:
        reason = (reasons or {}).get(line.id)
        line_facts = _line_facts(
            line, held.get(line.id, 0), ancestry.get(reason, frozenset()) if reason else frozenset()
        )
        evaluations.append(LineEvaluation(line, policy_rules.evaluate_line(policy, facts, line_facts, today=today)))
    return OrderEvaluation(order, 0 if draft else active.version, policy, evaluations)


def _line_facts(line: OrderLine, held: int, reason_codes: frozenset[str]) -> policy_rules.LineFacts:
    return policy_rules.LineFacts(
        order_line_id=line.id,
        sku=line.sku,
        product_id=line.product_external_id,
        category=line.category,
        tags=frozenset(line.tags),
        is_final_sale=line.is_final_sale,
        quantity=line.quantity,
        paid_amount=order_service.line_paid_amount(line),
        is_discounted=line.discount_amount > 0,
        already_returned=held,
        reason_codes=reason_codes,
    )


GIFT_RESOLUTIONS = ("store_credit", "exchange")


def request_return(
    session: Session,
    merchant_id: int,
    data: ReturnIn,
    *,
    actor: Actor,
    channel: str = "api",
    gift_recipient_email: str | None = None,
) -> ReturnRequest:
    """Check every line against the policy, quote the refund and record the request. Approved at
    once when the policy allows it and nothing needs review. Refuses the whole request (nothing
    written) if any line is refused. A gift return (``gift_recipient_email``) never refunds the
    buyer's payment: the recipient gets store credit or an exchange."""
    if gift_recipient_email is not None and data.resolution not in GIFT_RESOLUTIONS:
        raise Refused(
            "a gift return is settled with store credit or an exchange", field="resolution", code="gift_resolution"
        )
    order = order_service.get_order(session, merchant_id, data.order_id, lock=True)
    reason_rows = _check_lines(session, merchant_id, order, data.lines)
    evaluation = evaluate_order(
        session,
        merchant_id,
        order,
        reasons={i.order_line_id: i.reason_code for i in data.lines},
        reason_rows=reason_rows,
    )
    decisions = [_check_against_policy(evaluation, data, index, item) for index, item in enumerate(data.lines)]
    quote = _quote(evaluation, data, decisions)
    needs_review = any(decision.status == "needs_review" for decision in decisions)
    auto_approve = evaluation.policy.defaults.auto_approve and not needs_review
    request = ReturnRequest(
        merchant_id=merchant_id,
        order_id=order.id,
        customer_id=order.customer_id,
        status="approved" if auto_approve else "requested",
        resolution=data.resolution,
        method=data.method,
        channel=channel,
        currency=order.currency,
        policy_version=evaluation.policy_version,
        needs_review=needs_review,
        review_reasons=_review_reasons(decisions),
        quote=quote.as_dict(),
        refund_estimate_amount=quote.total.amount_minor,
        approved_at=clock.now() if auto_approve else None,
        gift_recipient_email=gift_recipient_email.strip().lower() if gift_recipient_email else None,
        lines=[
            _new_line(merchant_id, item, decision, approved=auto_approve)
            for item, decision in zip(data.lines, decisions, strict=True)
        ],
    )
    # The number locks the shop row until commit: take it once everything else is built.
    request.number = ids.return_number(merchant_service.next_return_sequence(session, merchant_id))
    session.add(request)
    # The session's identity map holds objects weakly: keep the order (and so its lines) alive until
    # the session ends, so that describing the new return finds them there instead of reading them
    # again while the shop row is locked (repository.orders_by_ids / order_lines_by_ids).
    session.info.setdefault(KEEP_ALIVE, []).append(order)
    session.flush()
    # The request as asked; the automatic approval is its own event, right after.
    _record(session, request, "return.requested", actor, after={**_snapshot(request), "status": "requested"})
    if auto_approve:
        _record(
            session,
            request,
            "return.approved",
            Actor.system("Policy"),
            before={"status": "requested"},
            after={"status": "approved", "automatic": True},
        )
    return request


def preview_quote(session: Session, merchant_id: int, data: ReturnIn) -> return_rules.Quote:
    """The quote ``request_return`` would record for this request, with the same checks and
    refusals, without writing anything (the portal shows it before the customer confirms)."""
    order = order_service.get_order(session, merchant_id, data.order_id)
    reason_rows = _check_lines(session, merchant_id, order, data.lines)
    evaluation = evaluate_order(
        session,
        merchant_id,
        order,
        reasons={i.order_line_id: i.reason_code for i in data.lines},
        reason_rows=reason_rows,
    )
    decisions = [_check_against_policy(evaluation, data, index, item) for index, item in enumerate(data.lines)]
    return _quote(evaluation, data, decisions)


def _check_lines(session: Session, merchant_id: int, order: Order, lines: list[ReturnLineIn]) -> list[Reason]:
    """Refuses lines of another order, repeated lines and unknown reasons; returns the shop's reasons."""
    own = {line.id for line in order.lines}
    reason_rows = policy_service.list_reasons(session, merchant_id)
    known_reasons = {reason.code for reason in reason_rows}
    seen: set[int] = set()
    for index, item in enumerate(lines):
        if item.order_line_id not in own:
            raise InvalidInput(
                "this line is not part of the order",
                field=f"lines.{index}.order_line_id",
                code="unknown_order_line",
            )
        if item.order_line_id in seen:
            raise InvalidInput(
                "the same order line is listed twice",
                field=f"lines.{index}.order_line_id",
                code="duplicate_order_line",
            )
        seen.add(item.order_line_id)
        if item.reason_code not in known_reasons:
            raise InvalidInput(
                f"unknown reason code '{item.reason_code}'",
                field=f"lines.{index}.reason_code",
                code="unknown_reason",
            )
    _check_exchange_variants(session, merchant_id, order, lines)
    return reason_rows


def _check_exchange_variants(session: Session, merchant_id: int, order: Order, lines: list[ReturnLineIn]) -> None:
    """An exchange is for the same item or another variant (size, metal...) of its product, in this shop."""
    wanted = [(index, item) for index, item in enumerate(lines) if item.exchange_variant_id is not None]
    if not wanted:
        return
    variant_of = {line.id: line.variant_id for line in order.lines}
    origins = [variant_of[item.order_line_id] for _, item in wanted]
    siblings = catalog_service.exchange_variants(session, merchant_id, [v for v in origins if v is not None])
    for (index, item), origin in zip(wanted, origins, strict=True):
        allowed = {origin, *(variant.id for variant in siblings.get(origin, []))} if origin is not None else set()
        if item.exchange_variant_id not in allowed:
            raise InvalidInput(
                "an exchange is for the same item or another variant of it",
                field=f"lines.{index}.exchange_variant_id",
                code="invalid_exchange_variant",
            )
        sold_out = {variant.id for variant in siblings.get(origin or 0, []) if not catalog_service.in_stock(variant)}
        if item.exchange_variant_id in sold_out:
            raise Refused(
                "this variant is out of stock: choose another one or another resolution",
                field=f"lines.{index}.exchange_variant_id",
                code="exchange_out_of_stock",
            )


def _check_against_policy(
    evaluation: OrderEvaluation, data: ReturnIn, index: int, item: ReturnLineIn
) -> policy_rules.LineDecision:
    found = evaluation.for_line(item.order_line_id)
    assert found is not None  # checked by _check_lines
    decision = found.decision
    field = f"lines.{index}"
    # Every unit already held by other returns is a quantity refusal (returnable 0), the answer a
    # request that lost the race for the last unit gets, whether one unit was left or none.
    all_held = decision.refusal is not None and decision.refusal.rule_id == "already_returned"
    if decision.status == "not_eligible" and not all_held:
        refusal = decision.refusal
        detail = refusal.en if refusal else "this item cannot be returned"
        raise Refused(
            detail,
            field=field,
            code="line_not_returnable",
            extra={"reason": {"en": detail, "fr": refusal.fr if refusal else detail}},
        )
    if item.quantity > decision.returnable_quantity:
        raise Refused(
            f"only {decision.returnable_quantity} unit(s) of this item can still be returned",
            field=f"{field}.quantity",
            code="quantity_exceeds_returnable",
            extra={"returnable_quantity": decision.returnable_quantity},
        )
    if data.resolution not in decision.resolutions:
        raise Refused(
            f"'{data.resolution}' is not offered for this item; offered: {', '.join(decision.resolutions)}",
            field="resolution",
            code="resolution_not_allowed",
        )
    if data.method not in decision.methods:
        raise Refused(
            f"'{data.method}' is not offered for this item; offered: {', '.join(decision.methods)}",
            field="method",
            code="method_not_allowed",
        )
    return decision


def _quote(
    evaluation: OrderEvaluation, data: ReturnIn, decisions: list[policy_rules.LineDecision]
) -> return_rules.Quote:
    inputs = []
    for item, decision in zip(data.lines, decisions, strict=True):
        found = evaluation.for_line(item.order_line_id)
        assert found is not None
        line = found.line
        inputs.append(
            return_rules.QuoteLineInput(
                order_line_id=line.id,
                line_quantity=line.quantity,
                line_paid_amount=order_service.line_paid_amount(line),
                line_tax_amount=line.tax_amount,
                quantity=item.quantity,
                already_returned=decision_already_returned(line.quantity, decision),
                restocking_fee_percent=decision.restocking_fee_percent,
                restocking_fee_amount=decision.restocking_fee_amount,
            )
        )
    return return_rules.quote_refund(
        inputs,
        currency=evaluation.order.currency,
        resolution=data.resolution,
        return_shipping_fee_amount=max(decision.return_shipping_fee_amount for decision in decisions),
        bonus_credit_percent=min((decision.bonus_credit_percent for decision in decisions), default=Decimal(0)),
    )


def decision_already_returned(quantity: int, decision: policy_rules.LineDecision) -> int:
    return quantity - decision.returnable_quantity


def _review_reasons(decisions: list[policy_rules.LineDecision]) -> list[dict[str, str]]:
    reasons: dict[str, dict[str, str]] = {}
    for decision in decisions:
        if decision.status == "needs_review":
            for item in decision.explanations:
                if item.rule_id not in decision.review_rule_ids:
                    continue  # the rule fired, but it is not why a person must look
                reasons[item.rule_id] = {"rule_id": item.rule_id, "en": item.en, "fr": item.fr}
    return list(reasons.values())


def _new_line(
    merchant_id: int, item: ReturnLineIn, decision: policy_rules.LineDecision, *, approved: bool
) -> ReturnLine:
    return ReturnLine(
        merchant_id=merchant_id,
        order_line_id=item.order_line_id,
        requested_quantity=item.quantity,
        approved_quantity=item.quantity if approved else 0,
        reason_code=item.reason_code,
        comment=item.comment,
        exchange_variant_id=item.exchange_variant_id,
        eligibility={
            "status": decision.status,
            "deadline": decision.deadline.isoformat() if decision.deadline else None,
            "photos_required": decision.photos_required,
            "rules": [item.rule_id for item in decision.explanations],
        },
    )


def _snapshot(request: ReturnRequest) -> dict[str, Any]:
    return {
        "number": request.number,
        "status": request.status,
        "resolution": request.resolution,
        "method": request.method,
        "total_amount": request.refund_estimate_amount,
        "lines": [
            {
                "order_line_id": line.order_line_id,
                "quantity": line.requested_quantity,
                "reason": line.reason_code,
            }
            for line in request.lines
        ],
    }


def _record(
    session: Session,
    request: ReturnRequest,
    action: str,
    actor: Actor,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
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
    outbox_service.enqueue(
        session,
        merchant_id=request.merchant_id,
        topic=action,
        payload={"return_id": request.id, "number": request.number},
    )


def _move(
    session: Session, merchant_id: int, return_id: int, event: str, actor: Actor, note: str | None
) -> ReturnRequest:
    request = get_return(session, merchant_id, return_id, lock=True)
    try:
        status = return_rules.transition(request.status, event)
    except return_rules.TransitionRefused as refused:
        raise Conflict(str(refused), code="invalid_transition", extra={"status": request.status}) from None
    before = request.status
    request.status = status
    if note:
        request.decision_note = note
    now = clock.now()
    if status == "approved":
        request.approved_at = now
        for line in request.lines:
            line.approved_quantity = line.requested_quantity
    if status in return_rules.FINAL:
        request.closed_at = now
    request.updated_at = now
    session.flush()
    _record(
        session,
        request,
        f"return.{status}",
        actor,
        before={"status": before},
        after={"status": status, **({"note": note} if note else {})},
    )
    return request


def approve_return(
    session: Session, merchant_id: int, return_id: int, *, actor: Actor, note: str | None = None
) -> ReturnRequest:
    return _move(session, merchant_id, return_id, "approve", actor, note)


def reject_return(
    session: Session, merchant_id: int, return_id: int, *, actor: Actor, note: str | None = None
) -> ReturnRequest:
    """Refuse the return; its units become returnable again (for another, valid request)."""
    return _move(session, merchant_id, return_id, "reject", actor, note)


def cancel_return(
    session: Session, merchant_id: int, return_id: int, *, actor: Actor, note: str | None = None
) -> ReturnRequest:
    """Cancel before anything was shipped back; the units become returnable again."""
    request = get_return(session, merchant_id, return_id, lock=True)
    if any(line.received_quantity for line in request.lines):
        raise Conflict("part of this return has already arrived", code="already_received")
    return _move(session, merchant_id, return_id, "cancel", actor, note)


def expire_return(
    session: Session, merchant_id: int, return_id: int, *, actor: Actor, note: str | None = None
) -> ReturnRequest:
    """Nothing was sent back in time (the label expired unused): ``approved -> expired``; the units
    become returnable again only if a new return is allowed by the policy's window."""
    return _move(session, merchant_id, return_id, "expire", actor, note)


def start_return(session: Session, merchant_id: int, return_id: int, *, actor: Actor) -> ReturnRequest:
    """The first parcel arrived at the warehouse: ``approved -> in_progress`` (called by receiving)."""
    return _move(session, merchant_id, return_id, "start", actor, None)


def complete_return(session: Session, merchant_id: int, return_id: int, *, actor: Actor) -> ReturnRequest:
    """Every unit arrived, was inspected and has its final disposition: ``in_progress -> completed``
    (called by receiving). Settling the money is separate."""
    return _move(session, merchant_id, return_id, "complete", actor, None)


def get_return(session: Session, merchant_id: int, return_id: int, *, lock: bool = False) -> ReturnRequest:
    request = repository.get(session, merchant_id, return_id, lock=lock)
    if request is None:
        raise NotFound("no such return")
    return request


def find_by_number(session: Session, merchant_id: int, number: str) -> ReturnRequest | None:
    return repository.by_number(session, merchant_id, number.strip().upper())


@dataclass(frozen=True)
class Page:
    items: list[ReturnRequest]
    next_cursor: str | None


def encode_cursor(return_id: int) -> str:
    return base64.urlsafe_b64encode(f"r:{return_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, value = raw.split(":", 1)
        if prefix != "r" or not value.isdigit() or not 1 <= int(value) <= ids.MAX_ID:
            raise ValueError(raw)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("this cursor is not one we gave out", field="cursor", code="invalid_cursor") from None


def list_returns(
    session: Session, merchant_id: int, filters: ReturnFilters, *, cursor: str | None = None, limit: int = 50
) -> Page:
    before_id = decode_cursor(cursor) if cursor else None
    filters = replace(
        filters,
        created_from=_utc_bound(filters.created_from, "created_from"),
        created_to=_utc_bound(filters.created_to, "created_to"),
    )
    rows = repository.search(session, merchant_id, filters, before_id=before_id, limit=limit + 1)
    items = rows[:limit]
    return Page(items, encode_cursor(items[-1].id) if len(rows) > limit else None)


def _utc_bound(value: datetime | None, field: str) -> datetime | None:
    """Dates are stored in UTC (SQLite keeps no offset): compare in UTC too. Naive means UTC."""
    if value is None:
        return None
    try:
        return clock.as_utc(value)
    except OverflowError:
        raise InvalidInput("this date is out of range", field=field, code="invalid_date") from None


def count_by_status(session: Session, merchant_id: int) -> dict[str, int]:
    return repository.count_by_status(session, merchant_id)


def timeline(session: Session, merchant_id: int, return_id: int) -> list[Any]:
    return audit_service.timeline(session, merchant_id, SUBJECT, return_id)


def context_for(
    session: Session, merchant_id: int, requests: list[ReturnRequest]
) -> tuple[dict[int, Order], dict[int, OrderLine]]:
    """The orders and order lines a list of returns refers to, in two queries."""
    orders = repository.orders_by_ids(session, merchant_id, {request.order_id for request in requests})
    lines = repository.order_lines_by_ids(
        session, merchant_id, {line.order_line_id for request in requests for line in request.lines}
    )
    return orders, lines


def describe_returns(
    session: Session, merchant_id: int, requests: list[ReturnRequest], *, with_timeline: bool = False
) -> list[ReturnOut]:
    """Returns as the API and pages show them: with order number, line titles and quote."""
    orders, lines = context_for(session, merchant_id, requests)
    described = []
    for request in requests:
        order = orders[request.order_id]
        events = timeline(session, merchant_id, request.id) if with_timeline else None
        described.append(
            ReturnOut(
                id=request.id,
                number=request.number,
                order_id=request.order_id,
                order_number=order.number,
                customer_email=order.email,
                status=request.status,
                resolution=request.resolution,
                method=request.method,
                channel=request.channel,
                currency=request.currency,
                policy_version=request.policy_version,
                needs_review=request.needs_review,
                review_reasons=[TextOut(**reason) for reason in request.review_reasons],
                decision_note=request.decision_note,
                quote=QuoteOut(**request.quote),
                allowed_actions=_allowed_actions(request),
                created_at=clock.as_utc(request.created_at),
                updated_at=clock.as_utc(request.updated_at),
                lines=[_line_out(line, lines[line.order_line_id]) for line in request.lines],
                timeline=[
                    TimelineEventOut(
                        at=clock.as_utc(event.created_at),
                        action=event.action,
                        actor_type=event.actor_type,
                        actor_label=event.actor_label,
                        before=event.before,
                        after=event.after,
                    )
                    for event in events
                ]
                if events is not None
                else None,
            )
        )
    return described


def _allowed_actions(request: ReturnRequest) -> list[str]:
    allowed = return_rules.allowed_events(request.status)
    return [event for event in ("approve", "reject", "cancel") if event in allowed]


def _line_out(line: ReturnLine, order_line: OrderLine) -> ReturnLineOut:
    return ReturnLineOut(
        id=line.id,
        order_line_id=line.order_line_id,
        sku=order_line.sku,
        title=order_line.title,
        reason_code=line.reason_code,
        comment=line.comment,
        exchange_variant_id=line.exchange_variant_id,
        requested_quantity=line.requested_quantity,
        approved_quantity=line.approved_quantity,
        received_quantity=line.received_quantity,
        accepted_quantity=line.accepted_quantity,
        rejected_quantity=line.rejected_quantity,
        restocked_quantity=line.restocked_quantity,
        refunded_quantity=line.refunded_quantity,
        exchanged_quantity=line.exchanged_quantity,
    )


def describe_evaluation(evaluation: OrderEvaluation) -> ReturnableOut:
    return ReturnableOut(
        order_id=evaluation.order.id,
        order_number=evaluation.order.number,
        currency=evaluation.order.currency,
        policy_version=evaluation.policy_version,
        lines=[_returnable_line(item) for item in evaluation.lines],
    )


def _returnable_line(item: LineEvaluation) -> ReturnableLineOut:
    decision, line = item.decision, item.line
    return ReturnableLineOut(
        order_line_id=line.id,
        sku=line.sku,
        title=line.title,
        image_url=line.image_url,
        quantity=line.quantity,
        returnable_quantity=decision.returnable_quantity,
        status=decision.status,
        deadline=decision.deadline,
        resolutions=list(decision.resolutions),
        methods=list(decision.methods),
        unit_paid_amount=order_service.line_paid_amount(line) // line.quantity,
        restocking_fee_percent=str(decision.restocking_fee_percent),
        restocking_fee_amount=decision.restocking_fee_amount,
        return_shipping_fee_amount=decision.return_shipping_fee_amount,
        bonus_credit_percent=str(decision.bonus_credit_percent),
        photos_required=decision.photos_required,
        explanations=[TextOut(rule_id=e.rule_id, en=e.en, fr=e.fr) for e in decision.explanations],
        refusal=TextOut(rule_id=decision.refusal.rule_id, en=decision.refusal.en, fr=decision.refusal.fr)
        if decision.refusal
        else None,
    )
