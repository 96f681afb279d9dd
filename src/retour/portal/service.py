"""The customer portal's own use cases: find an order (rate-limited, gift returns included), the
short-lived portal session bound to that one order, and the draft of the return being prepared.

Anything a return *is* (eligibility, quote, creation, cancellation) stays in ``return_request``;
this module only gathers the customer's choices and hands them over."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from sqlalchemy.orm import Session

from retour.catalog import service as catalog_service
from retour.kit import clock, ids
from retour.kit.actor import Actor
from retour.kit.errors import InvalidInput, NotFound, Refused
from retour.merchant import service as merchant_service
from retour.models import Order, OrderLine, PortalSession, Reason, ReturnRequest, Variant
from retour.order import service as order_service
from retour.photo import rules as photo_rules
from retour.photo import service as photo_service
from retour.policy import service as policy_service
from retour.policy.rules import LineDecision
from retour.policy.schemas import ALL_METHODS, ALL_RESOLUTIONS, PolicyDocument
from retour.portal import repository
from retour.portal.schemas import Draft, DraftLine, ItemChoice, LookupIn, OptionsIn
from retour.return_request import service as return_service
from retour.return_request.repository import ReturnFilters
from retour.return_request.rules import Quote
from retour.return_request.schemas import ReturnableOut, ReturnIn
from retour.shipment import service as shipment_service

SESSION_LIFETIME = timedelta(minutes=30)
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES = 5
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# ---- Finding the order ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Lookup:
    """What a lookup gave: an open portal session, nothing that matched, or a refusal to try
    again before ``retry_at``. The failure is already recorded: commit in every case."""

    outcome: Literal["opened", "not_found", "rate_limited"]
    token: str | None = None
    order_id: int | None = None
    retry_at: datetime | None = None


def find_order(session: Session, merchant_id: int, data: LookupIn, *, client_address: str) -> Lookup:
    """Open a portal session for the order whose number and proof match. A wrong combination
    says only ``not_found`` (never whether the order exists) and counts against the client's
    address and against the order number; past ``MAX_FAILURES`` in ``FAILURE_WINDOW`` either of
    them, every attempt is refused until the oldest counted failure leaves the window."""
    _check_lookup_input(data)
    now = clock.now()
    keys = {"ip": ids.sha256_hex(client_address or "unknown"), "order": ids.sha256_hex(normalize_number(data))}
    retry_at = _blocked_until(session, merchant_id, keys, now)
    if retry_at is not None:
        return Lookup("rate_limited", retry_at=retry_at)
    order = _matching_order(session, merchant_id, data)
    if order is None:
        for scope, key in keys.items():
            repository.forget_failures_before(session, merchant_id, scope, key, now - FAILURE_WINDOW)
            repository.add_failure(session, merchant_id, scope, key, now)
        session.flush()
        return Lookup("not_found")
    token = open_session(
        session,
        merchant_id,
        order,
        gift_recipient_email=data.recipient_email.lower() if data.mode == "gift" else None,
    )
    return Lookup("opened", token=token, order_id=order.id)


def _check_lookup_input(data: LookupIn) -> None:
    """Missing or malformed fields are the customer's typo, not a guess: refused, not counted."""
    if not data.order_number:
        raise InvalidInput("enter the order number", field="order_number", code="required")
    if data.mode == "email" and not _EMAIL.match(data.email):
        raise InvalidInput("enter the email address used for the order", field="email", code="invalid_email")
    if data.mode == "postal_code" and not normalize_code(data.postal_code):
        raise InvalidInput("enter the delivery postal code", field="postal_code", code="required")
    if data.mode == "gift":
        if not normalize_code(data.gift_code):
            raise InvalidInput("enter the gift code", field="gift_code", code="required")
        if not _EMAIL.match(data.recipient_email):
            raise InvalidInput("enter your email address", field="recipient_email", code="invalid_email")


def normalize_number(data: LookupIn) -> str:
    return data.order_number.strip().lstrip("#").strip().lower()


def normalize_code(value: str) -> str:
    return re.sub(r"[\s\-]", "", value).upper()


def _blocked_until(session: Session, merchant_id: int, keys: dict[str, str], now: datetime) -> datetime | None:
    latest: datetime | None = None
    for scope, key in keys.items():
        failures = repository.failures_since(session, merchant_id, scope, key, now - FAILURE_WINDOW)
        if len(failures) >= MAX_FAILURES:
            # Allowed again once fewer than MAX_FAILURES remain inside the window.
            until = clock.as_utc(failures[len(failures) - MAX_FAILURES]) + FAILURE_WINDOW
            latest = until if latest is None or until > latest else latest
    return latest


def _matching_order(session: Session, merchant_id: int, data: LookupIn) -> Order | None:
    number = data.order_number.strip()
    candidates = dict.fromkeys([number, "#" + number.lstrip("#"), number.lstrip("#")])
    order = None
    for candidate in candidates:
        order = order_service.find_order_by_number(session, merchant_id, candidate)
        if order is not None:
            break
    if order is None:
        return None
    if data.mode == "email":
        matched = ids.constant_time_equal(order.email.strip().lower(), data.email.lower())
    elif data.mode == "postal_code":
        matched = bool(order.postal_code) and ids.constant_time_equal(
            normalize_code(order.postal_code), normalize_code(data.postal_code)
        )
    else:
        matched = bool(order.gift_code) and ids.constant_time_equal(
            normalize_code(order.gift_code or ""), normalize_code(data.gift_code)
        )
    return order if matched else None


# ---- The portal session --------------------------------------------------------------------------


def open_session(session: Session, merchant_id: int, order: Order, *, gift_recipient_email: str | None = None) -> str:
    """A new portal session on this one order, valid for ``SESSION_LIFETIME``. Returns the token
    the browser keeps (only its hash is stored)."""
    now = clock.now()
    repository.forget_expired_sessions(session, merchant_id, now)
    token = ids.token(24)
    session.add(
        PortalSession(
            merchant_id=merchant_id,
            token_hash=ids.sha256_hex(token),
            order_id=order.id,
            is_gift=gift_recipient_email is not None,
            gift_recipient_email=gift_recipient_email,
            draft=Draft(upload_token=ids.token(24)).model_dump(mode="json"),
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    session.flush()
    return token


@dataclass(frozen=True)
class PortalAccess:
    portal_session: PortalSession
    order: Order

    @property
    def draft(self) -> Draft:
        return Draft.model_validate(self.portal_session.draft or {})

    @property
    def is_gift(self) -> bool:
        return self.portal_session.is_gift


class SessionExpired(NotFound):
    code = "portal_session_expired"


def access_order(session: Session, merchant_id: int, token: str | None, order_id: int) -> PortalAccess:
    """The order a portal session may see. Another order, another shop's order, or no session at
    all: ``NotFound`` (the same answer whether it exists or not). An expired session:
    ``SessionExpired`` so the page can ask for the lookup again."""
    found = repository.session_by_token_hash(session, merchant_id, ids.sha256_hex(token)) if token else None
    if found is None or found.order_id != order_id:
        raise NotFound("no such order")
    if clock.as_utc(found.expires_at) <= clock.now():
        raise SessionExpired("your session has expired: find your order again")
    return PortalAccess(found, order_service.get_order(session, merchant_id, order_id))


def session_order_id(session: Session, merchant_id: int, token: str | None) -> int | None:
    """The order of a live portal session, if any (to send a returning customer back to it)."""
    if not token:
        return None
    found = repository.session_by_token_hash(session, merchant_id, ids.sha256_hex(token))
    if found is None or clock.as_utc(found.expires_at) <= clock.now():
        return None
    return found.order_id


def save_draft(access: PortalAccess, draft: Draft) -> None:
    access.portal_session.draft = draft.model_dump(mode="json")


def close_session(session: Session, merchant_id: int, token: str | None) -> None:
    if token:
        found = repository.session_by_token_hash(session, merchant_id, ids.sha256_hex(token))
        if found is not None:
            session.delete(found)


# ---- Form problems ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """A refusal tied to a form field; ``code`` picks the message the page shows (translated),
    ``detail`` is the English fallback."""

    field: str
    code: str
    detail: str = ""
    params: dict[str, Any] = dataclasses.field(default_factory=dict)


class FormRefused(InvalidInput):
    """One or more fields of a portal form were refused. Nothing of the step was kept, except
    photos that passed their checks (so that the customer does not upload them twice)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems[0].detail or problems[0].code, field=problems[0].field, code="form_refused")
        self.problems = problems


# ---- Choosing the items (C2, C3) -----------------------------------------------------------------

MAX_PHOTOS_PER_LINE = 6
PHOTO_MAX_MB = photo_rules.MAX_BYTES // 2**20


@dataclass(frozen=True)
class ReasonGroup:
    """A top-level reason with its sub-reasons (``reason`` is None for the loose top-level ones)."""

    reason: Reason | None
    children: list[Reason]


@dataclass(frozen=True)
class ChoosePage:
    order: Order
    returnable: ReturnableOut
    reason_groups: list[ReasonGroup]
    photo_reasons: frozenset[str]
    """Reason codes for which the shop asks for photos (the reason itself or the policy)."""
    returns: list[ReturnRequest]
    draft: Draft


def choose_page(session: Session, merchant_id: int, access: PortalAccess) -> ChoosePage:
    """Every line of the order with what can be returned, until when, and why not."""
    order = access.order
    evaluation = return_service.evaluate_order(session, merchant_id, order)
    reasons = [reason for reason in policy_service.list_reasons(session, merchant_id) if reason.is_active]
    existing = return_service.list_returns(session, merchant_id, ReturnFilters(order_id=order.id), limit=20).items
    return ChoosePage(
        order=order,
        returnable=return_service.describe_evaluation(evaluation),
        reason_groups=reason_groups(reasons),
        photo_reasons=photo_reasons(evaluation.policy, reasons),
        returns=existing,
        draft=access.draft,
    )


def reason_groups(reasons: list[Reason]) -> list[ReasonGroup]:
    children: dict[str, list[Reason]] = {}
    for reason in reasons:
        if reason.parent_code:
            children.setdefault(reason.parent_code, []).append(reason)
    groups: list[ReasonGroup] = []
    loose: list[Reason] = []
    for reason in reasons:
        if reason.parent_code:
            continue
        if reason.code in children:
            groups.append(ReasonGroup(reason, children[reason.code]))
        else:
            loose.append(reason)
    return [*groups, ReasonGroup(None, loose)] if loose else groups


def photo_reasons(policy: PolicyDocument, reasons: list[Reason]) -> frozenset[str]:
    """Reasons that call for photos: flagged on the reason, or named by a policy rule that asks
    for photos (a rule on ``quality`` covers ``damaged``)."""
    ancestry = policy_service.reason_ancestry(reasons)
    wanted = {code for rule in policy.rules if rule.then.photos_required for code in (rule.when.reasons or [])}
    flagged = {reason.code for reason in reasons if reason.requires_photo}
    return frozenset(code for code, chain in ancestry.items() if code in flagged or chain & wanted)


@dataclass(frozen=True)
class Upload:
    order_line_id: int
    filename: str
    content_type: str
    data: bytes


def choose_items(
    session: Session,
    merchant_id: int,
    access: PortalAccess,
    choices: list[ItemChoice],
    uploads: list[Upload],
    *,
    storage_dir: Path,
) -> Draft:
    """Keep the chosen lines (quantity, reason, comment, photos) on the draft. Each photo goes
    through the photo checks and is kept if it passes, even when another field is refused.
    Refusals: ``FormRefused`` with one problem per field."""
    chosen = [choice for choice in choices if choice.quantity > 0]
    reasons = {reason.code: reason for reason in policy_service.list_reasons(session, merchant_id) if reason.is_active}
    evaluation = return_service.evaluate_order(
        session, merchant_id, access.order, reasons={c.order_line_id: c.reason_code for c in chosen if c.reason_code}
    )
    draft = access.draft
    problems = _store_uploads(session, merchant_id, draft, uploads, storage_dir=storage_dir)
    lines: list[DraftLine] = []
    for choice in chosen:
        found = evaluation.for_line(choice.order_line_id)
        problems += _line_problems(choice, found.decision if found else None, reasons, draft)
        previous = next((line for line in draft.lines if line.order_line_id == choice.order_line_id), None)
        lines.append(
            DraftLine(
                order_line_id=choice.order_line_id,
                quantity=choice.quantity,
                reason_code=choice.reason_code,
                comment=choice.comment,
                exchange_variant_id=previous.exchange_variant_id if previous else None,
            )
        )
    if not chosen and not problems:
        problems.append(Problem("items", "nothing_chosen", "choose at least one item to return"))
    if problems:
        save_draft(access, draft)  # the photos that passed
        raise FormRefused(problems)
    draft.lines = lines
    save_draft(access, draft)
    return draft


def _line_problems(
    choice: ItemChoice, decision: LineDecision | None, reasons: dict[str, Reason], draft: Draft
) -> list[Problem]:
    prefix = f"line-{choice.order_line_id}"
    if decision is None or not decision.is_returnable:
        return [Problem(f"{prefix}-quantity", "not_returnable", "this item cannot be returned")]
    problems = []
    if choice.quantity > decision.returnable_quantity:
        problems.append(
            Problem(
                f"{prefix}-quantity",
                "quantity_exceeds_returnable",
                f"at most {decision.returnable_quantity}",
                {"count": decision.returnable_quantity},
            )
        )
    reason = reasons.get(choice.reason_code)
    if reason is None:
        problems.append(Problem(f"{prefix}-reason", "reason_required", "choose a reason"))
    elif (decision.photos_required or reason.requires_photo) and not draft.photo_ids(choice.order_line_id):
        problems.append(Problem(f"{prefix}-photos", "photos_required", "add at least one photo"))
    return problems


def _store_uploads(
    session: Session, merchant_id: int, draft: Draft, uploads: list[Upload], *, storage_dir: Path
) -> list[Problem]:
    problems: list[Problem] = []
    for upload in uploads:
        key = str(upload.order_line_id)
        field_name = f"line-{upload.order_line_id}-photos"
        if len(draft.photos.get(key, [])) >= MAX_PHOTOS_PER_LINE:
            problems.append(Problem(field_name, "too_many_photos", "too many photos", {"count": MAX_PHOTOS_PER_LINE}))
            continue
        try:
            photo = photo_service.store_photo(
                session,
                merchant_id,
                data=upload.data,
                filename=upload.filename,
                content_type=upload.content_type,
                upload_token=draft.upload_token,
                storage_dir=storage_dir,
            )
        except InvalidInput as refused:
            limits = {"max_mb": photo_rules.MAX_BYTES // 2**20, "max_megapixels": photo_rules.MAX_PIXELS // 10**6}
            problems.append(Problem(field_name, refused.code, refused.detail, {"filename": upload.filename, **limits}))
            continue
        draft.photos.setdefault(key, []).append(photo.id)
    return problems


# ---- Resolution and method (C4, C7) --------------------------------------------------------------


@dataclass(frozen=True)
class ExchangeChoice:
    """What one returned line can be exchanged for: the other variants of its product, each with
    the stock the shop last sent (``None``: the shop does not send stock, so it is offered).
    Variants out of stock are shown but cannot be chosen."""

    order_line: OrderLine
    variants: list[Variant]

    @property
    def available(self) -> list[Variant]:
        return [variant for variant in self.variants if catalog_service.in_stock(variant)]


@dataclass(frozen=True)
class OptionsPage:
    lines: list[tuple[DraftLine, OrderLine]]
    resolutions: list[str]
    unavailable: dict[str, str]
    """Resolutions the policy allows but this return cannot use, with the code of why not."""
    quotes: dict[str, Quote]
    exchanges: list[ExchangeChoice]
    methods: list[str]
    pickup_slots: list[Any]
    stores: list[Any]
    draft: Draft
    currency: str


def options_page(session: Session, merchant_id: int, access: PortalAccess) -> OptionsPage:
    """The resolutions and return methods every chosen line allows, each resolution with its
    quote (the same arithmetic as the return itself). ``NotFound`` when nothing is chosen yet."""
    draft = access.draft
    if not draft.lines:
        raise NotFound("choose the items first", code="nothing_chosen")
    order = access.order
    by_id = {line.id: line for line in order.lines}
    evaluation = return_service.evaluate_order(
        session, merchant_id, order, reasons={line.order_line_id: line.reason_code for line in draft.lines}
    )
    decisions = [found.decision for line in draft.lines if (found := evaluation.for_line(line.order_line_id))]
    allowed: list[str] = [r for r in ALL_RESOLUTIONS if all(r in decision.resolutions for decision in decisions)]
    methods: list[str] = [m for m in ALL_METHODS if all(m in decision.methods for decision in decisions)]
    exchanges = _exchange_choices(session, merchant_id, [by_id[line.order_line_id] for line in draft.lines])
    unavailable: dict[str, str] = {}
    if access.is_gift:
        unavailable.update({r: "gift" for r in allowed if r not in return_service.GIFT_RESOLUTIONS})
    if "exchange" in allowed and any(not choice.variants for choice in exchanges):
        unavailable["exchange"] = "no_variant"
    elif "exchange" in allowed and any(not choice.available for choice in exchanges):
        unavailable["exchange"] = "sold_out"
    resolutions = [r for r in allowed if r not in unavailable]
    quotes = {r: _preview(session, merchant_id, order, draft, r, methods) for r in resolutions if methods}
    return OptionsPage(
        lines=[(line, by_id[line.order_line_id]) for line in draft.lines],
        resolutions=resolutions,
        unavailable=unavailable,
        quotes={r: q for r, q in quotes.items() if q is not None},
        exchanges=exchanges,
        methods=methods,
        pickup_slots=shipment_service.pickup_slots(clock.now().date()) if "home_pickup" in methods else [],
        stores=shipment_service.stores_for(session, merchant_service.get_merchant(session, merchant_id))
        if "in_store" in methods
        else [],
        draft=draft,
        currency=order.currency,
    )


def _exchange_choices(session: Session, merchant_id: int, lines: list[OrderLine]) -> list[ExchangeChoice]:
    siblings = catalog_service.exchange_variants(
        session, merchant_id, [line.variant_id for line in lines if line.variant_id is not None]
    )
    return [ExchangeChoice(line, siblings.get(line.variant_id, []) if line.variant_id else []) for line in lines]


def _return_in(order: Order, draft: Draft, resolution: str, method: str) -> ReturnIn:
    return ReturnIn.model_validate(
        {
            "order_id": order.id,
            "resolution": resolution,
            "method": method,
            "lines": [
                {
                    "order_line_id": line.order_line_id,
                    "quantity": line.quantity,
                    "reason_code": line.reason_code,
                    "comment": line.comment,
                    "exchange_variant_id": line.exchange_variant_id if resolution == "exchange" else None,
                }
                for line in draft.lines
            ],
        }
    )


def _preview(
    session: Session, merchant_id: int, order: Order, draft: Draft, resolution: str, methods: list[str]
) -> Quote | None:
    method = draft.method if draft.method in methods else methods[0]
    try:
        return return_service.preview_quote(session, merchant_id, _return_in(order, draft, resolution, method))
    except (InvalidInput, Refused):
        return None


def quote_for(session: Session, merchant_id: int, access: PortalAccess, resolution: str) -> Quote | None:
    """The quote of one resolution (the live preview while the customer hesitates)."""
    page = options_page(session, merchant_id, access)
    return page.quotes.get(resolution)


def choose_options(session: Session, merchant_id: int, access: PortalAccess, data: OptionsIn) -> Draft:
    """Keep the resolution (with the exchange variants) and the return method on the draft."""
    page = options_page(session, merchant_id, access)
    draft = page.draft
    problems: list[Problem] = []
    if data.resolution not in page.resolutions:
        problems.append(Problem("resolution", "resolution_required", "choose what you would like"))
    if data.resolution == "exchange":
        problems += _set_exchange_variants(draft, page.exchanges, data.exchange_variants)
    if data.method not in page.methods:
        problems.append(Problem("method", "method_required", "choose how to send the parcel"))
    problems += _method_details(draft, page, data)
    if problems:
        raise FormRefused(problems)
    draft.resolution = data.resolution
    draft.method = data.method
    save_draft(access, draft)
    return draft


def _set_exchange_variants(draft: Draft, exchanges: list[ExchangeChoice], chosen: dict[int, int]) -> list[Problem]:
    problems = []
    for choice, line in zip(exchanges, draft.lines, strict=True):
        variant_id = chosen.get(line.order_line_id)
        if variant_id in {variant.id for variant in choice.variants} - {variant.id for variant in choice.available}:
            problems.append(
                Problem(f"line-{line.order_line_id}-variant", "variant_out_of_stock", "this one is out of stock")
            )
        elif variant_id not in {variant.id for variant in choice.available}:
            problems.append(Problem(f"line-{line.order_line_id}-variant", "variant_required", "choose a variant"))
        line.exchange_variant_id = variant_id
    return problems


def _method_details(draft: Draft, page: OptionsPage, data: OptionsIn) -> list[Problem]:
    draft.pickup_date, draft.pickup_slot, draft.store_code = None, None, None
    if data.method == "home_pickup":
        slot = next((s for s in page.pickup_slots if _slot_value(s) == f"{data.pickup_date}|{data.pickup_slot}"), None)
        if slot is None:
            return [Problem("pickup", "pickup_required", "choose a day and a time slot")]
        draft.pickup_date, draft.pickup_slot = slot.date, slot.slot
    if data.method == "in_store":
        if data.store_code not in {store.code for store in page.stores}:
            return [Problem("store", "store_required", "choose a store")]
        draft.store_code = data.store_code
    return []


def _slot_value(slot: Any) -> str:
    return f"{slot.date.isoformat()}|{slot.slot}"


# ---- Confirmation (C5) ---------------------------------------------------------------------------


def confirm_return(
    session: Session,
    merchant_id: int,
    access: PortalAccess,
    *,
    actor: Actor,
    storage_dir: Path | None = None,
    language: str | None = None,
) -> ReturnRequest:
    """Create the return through ``request_return`` (the same path as the API), attach the
    photos, and create the parcel's shipment when the return is approved at once, its label in
    ``language`` (the page's; a return waiting for review gets its label once approved, in the
    order's language). The draft starts afresh."""
    draft = access.draft
    if not draft.lines or not draft.resolution or not draft.method:
        raise NotFound("choose the items first", code="nothing_chosen")
    with session.begin_nested():  # a refusal half-way leaves nothing behind
        return _create_return(
            session, merchant_id, access, draft, actor=actor, storage_dir=storage_dir, language=language
        )


def _create_return(
    session: Session,
    merchant_id: int,
    access: PortalAccess,
    draft: Draft,
    *,
    actor: Actor,
    storage_dir: Path | None,
    language: str | None,
) -> ReturnRequest:
    assert draft.resolution is not None and draft.method is not None
    order = access.order
    request = return_service.request_return(
        session,
        merchant_id,
        _return_in(order, draft, draft.resolution, draft.method),
        actor=actor,
        channel="portal",
        gift_recipient_email=access.portal_session.gift_recipient_email,
    )
    lines_by_order_line = {line.order_line_id: line.id for line in request.lines}
    for order_line_id, photo_ids in draft.photos.items():
        return_line_id = lines_by_order_line.get(int(order_line_id))
        if return_line_id is not None and photo_ids:
            photo_service.attach_photos(
                session,
                merchant_id,
                upload_token=draft.upload_token,
                photo_ids=photo_ids,
                return_request_id=request.id,
                return_line_id=return_line_id,
            )
    if request.status == "approved":
        shipment_service.create_shipment(
            session,
            merchant_id,
            request,
            method=draft.method,
            pickup_date=draft.pickup_date,
            pickup_slot=draft.pickup_slot,
            store_code=draft.store_code,
            actor=actor,
            storage_dir=storage_dir,
            defer_carrier=True,
            language=language,
        )
    save_draft(access, Draft(upload_token=ids.token(24)))
    return request


def customer_actor(order: Order, *, gift_recipient_email: str | None = None) -> Actor:
    if gift_recipient_email:
        return Actor("customer", None, f"{gift_recipient_email} (gift recipient)")
    return Actor("customer", str(order.customer_id), order.customer_name or order.email)
