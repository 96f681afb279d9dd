"""Where the parcels are: carrier scans in (webhooks, polling, the shop's API), shipment statuses
moved by them, labels that expire unused, pickups moved to another slot.

Inbound webhooks are verified, stored first (``inbound_webhook``, unique per shop, sender and
delivery id), answered, then read by the worker (outbox ``carrier.webhook_received``). Every scan
is stored once per parcel (``shipment_event``, unique on the carrier's event id), with the parcel
row locked so that a webhook and a poll of the same parcel never both apply it. A scan only ever
moves a parcel forward (``rules.status_after_scans``)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from retour.audit import service as audit_service
from retour.kit import clock
from retour.kit.actor import Actor
from retour.kit.db import unit_of_work
from retour.kit.errors import Conflict, InvalidInput, NotFound, Refused, ServiceUnavailable, Unauthorized
from retour.merchant import service as merchant_service
from retour.models import InboundWebhook, Shipment, ShipmentEvent
from retour.outbox import service as outbox
from retour.return_request import service as return_service
from retour.shipment import carriers, providers, repository, rules
from retour.shipment import service as shipment_service
from retour.shipment.carriers import TrackingEvent

log = logging.getLogger("retour.tracking")

SUBJECT = "return_request"
WEBHOOK_RECEIVED = "carrier.webhook_received"
SYSTEM = Actor.system("Retour")
# Headers kept with a stored webhook (for support: what the carrier said it was).
# (Never the shop's own secret: Shippo's URL token is checked, not kept.)
_KEPT_HEADERS = ("content-type", "user-agent", "x-hmac-signature", "shippo-auth-signature")


@dataclass(frozen=True)
class ScanOutcome:
    """What a batch of scans did to one parcel."""

    stored: int
    duplicates: int
    status_before: str
    status_after: str


# ---- Scans -----------------------------------------------------------------------------------------


def record_scans(
    session: Session,
    merchant_id: int,
    shipment_id: int,
    events: Iterable[TrackingEvent],
    *,
    source: str,
    actor: Actor = SYSTEM,
) -> ScanOutcome:
    """Store the scans of one parcel that are new (by their carrier id) and move the parcel as far
    as they say: ``shipment.in_transit`` / ``shipment.delivered`` on its return's timeline and in
    the outbox (the customer is told), ``shipment.exception`` for a failed delivery attempt or a
    parcel sent back, ``shipment.unexpected_scan`` for a parcel whose label was cancelled or had
    expired. Idempotent: the same scans again store nothing and move nothing."""
    shipment = repository.get_shipment(session, merchant_id, shipment_id, lock=True)
    if shipment is None:
        raise NotFound("no such shipment")
    batch = sorted(events, key=lambda item: clock.as_utc(item.at))
    for event in batch:  # all checked before anything is stored
        if event.status not in carriers.TRACKING_STATUSES:
            raise InvalidInput(
                f"unknown tracking status {event.status!r}", field="status", code="invalid_tracking_status"
            )
    known = repository.event_ids(session, merchant_id, shipment.id)
    fresh: list[TrackingEvent] = []
    duplicates = 0
    for event in batch:
        if event.external_id in known:
            duplicates += 1
            continue
        known.add(event.external_id)
        fresh.append(event)
        session.add(
            ShipmentEvent(
                merchant_id=merchant_id,
                shipment_id=shipment.id,
                source=source,
                external_id=event.external_id[:100],
                status=event.status,
                carrier_status=event.carrier_status[:60],
                description=event.description[:500],
                location=event.location[:200] if event.location else None,
                occurred_at=clock.as_utc(event.at),
            )
        )
    before = shipment.status
    # Each step passed is told, in order: a batch that goes from a new label to delivered (a
    # parcel polled once, late) still shows "in transit" on the timeline.
    step = before
    for event in fresh:
        reached = rules.status_after_scans(step, [event.status])
        if reached != step:
            shipment.status = reached
            _tell(session, shipment, f"shipment.{reached}", actor, before={"status": step}, after={"status": reached})
            step = reached
    if fresh:
        latest = max(clock.as_utc(event.at) for event in fresh)
        if shipment.last_event_at is None or clock.as_utc(shipment.last_event_at) < latest:
            shipment.last_event_at = latest
        shipment.updated_at = clock.now()
    after = step
    for event in fresh:
        if event.status == "exception":
            _tell(
                session,
                shipment,
                "shipment.exception",
                actor,
                after={"description": event.description, "carrier_status": event.carrier_status},
            )
        elif rules.is_unexpected_scan(before, event.status):
            _tell(
                session,
                shipment,
                "shipment.unexpected_scan",
                actor,
                after={"status": shipment.status, "scan": event.status, "description": event.description},
            )
    session.flush()
    return ScanOutcome(stored=len(fresh), duplicates=duplicates, status_before=before, status_after=after)


def scan_id(tracking_number: str, status: str, at: datetime, description: str = "") -> str:
    """A stable id for a scan its carrier gave none: the same scan read twice gets the same id."""
    raw = f"{tracking_number}|{status}|{clock.as_utc(at).isoformat()}|{description}"
    return "h:" + hashlib.sha256(raw.encode()).hexdigest()[:40]


def events_of(session: Session, merchant_id: int, shipment_id: int) -> list[ShipmentEvent]:
    return repository.events_of(session, merchant_id, shipment_id)


# ---- Webhooks --------------------------------------------------------------------------------------


def receive_webhook(
    session: Session, *, shop_slug: str, provider: str, headers: Mapping[str, str], body: bytes
) -> tuple[InboundWebhook, bool]:
    """Verify a carrier's webhook for one shop and store it (``pending``), with an outbox message
    for the worker. Returns the stored row and whether it is new: a delivery the carrier retries
    is answered the same way and stored once. ``NotFound`` when the shop does not use that
    carrier (never say more to an anonymous caller), ``Unauthorized`` when the signature is wrong."""
    try:
        merchant = merchant_service.get_merchant_by_slug(session, shop_slug)
    except NotFound:
        raise NotFound("no such webhook") from None
    settings = providers.settings_of(merchant.settings)
    if settings.provider != provider or provider == "builtin" or not settings.webhook_secret:
        raise NotFound("no such webhook")
    adapter = providers.adapter_for(settings)
    lowered = {key.lower(): value for key, value in headers.items()}
    try:
        adapter.verify_webhook(lowered, body, settings.webhook_secret)
        external_id = adapter.webhook_id(body)
    except carriers.WebhookRejected as rejected:
        raise Unauthorized(f"webhook refused: {rejected}", code="webhook_signature_invalid") from None
    existing = repository.inbound_webhook(session, merchant.id, provider, external_id)
    if existing is not None:
        return existing, False
    row = InboundWebhook(
        merchant_id=merchant.id,
        source=provider,
        external_id=external_id[:100],
        body=body.decode("utf-8", errors="replace"),
        headers={key: value for key, value in lowered.items() if key in _KEPT_HEADERS},
        status="pending",
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        # The same delivery arrived twice at once (PostgreSQL): the other request stored it.
        existing = repository.inbound_webhook(session, merchant.id, provider, external_id)
        if existing is None:
            raise
        return existing, False
    outbox.enqueue(session, merchant_id=merchant.id, topic=WEBHOOK_RECEIVED, payload={"inbound_webhook_id": row.id})
    return row, True


def process_webhook(session: Session, merchant_id: int, inbound_id: int) -> InboundWebhook:
    """Read a stored webhook: its scans go to their parcels (found by tracking number in this
    shop). Parcels Retour does not know (a shipment of the shop's, not a return) are ignored.
    Idempotent: a webhook already processed is left alone."""
    row = repository.get_inbound_webhook(session, merchant_id, inbound_id, lock=True)
    if row is None:
        raise NotFound("no such webhook")
    if row.status != "pending":
        return row
    merchant = merchant_service.get_merchant(session, merchant_id)
    settings = providers.settings_of(merchant.settings)
    try:
        adapter = providers.adapter_named(row.source, settings)
        events = adapter.parse_webhook(row.body.encode("utf-8"))
    except carriers.CarrierError as error:
        row.status, row.note, row.processed_at = "failed", str(error)[:500], clock.now()
        return row
    by_parcel: dict[str, list[TrackingEvent]] = {}
    for event in events:
        by_parcel.setdefault(event.tracking_number, []).append(event)
    applied, unknown = 0, []
    for tracking_number, parcel_events in by_parcel.items():
        shipment = repository.shipment_by_tracking(session, merchant_id, tracking_number) if tracking_number else None
        if shipment is None:
            unknown.append(tracking_number or "?")
            continue
        record_scans(session, merchant_id, shipment.id, parcel_events, source=row.source)
        applied += 1
    row.status = "processed" if applied else "ignored"
    row.note = (
        f"{len(events)} scan(s) for {applied} parcel(s)" + (f"; unknown: {', '.join(unknown)}" if unknown else "")
    )[:500]
    row.processed_at = clock.now()
    return row


# ---- Polling ---------------------------------------------------------------------------------------


def parcels_to_poll(session: Session, merchant_id: int, now: datetime, limit: int = 100) -> list[Shipment]:
    return [
        shipment
        for shipment in repository.tracked_shipments(session, merchant_id, rules.TRACKED_STATUSES, limit=limit)
        if rules.should_poll(
            shipment.status,
            shipment.carrier,
            shipment.tracking_number,
            clock.as_utc(shipment.last_polled_at) if shipment.last_polled_at else None,
            now,
        )
    ]


def poll_parcel(
    session: Session, merchant_id: int, shipment_id: int, *, raise_errors: bool = False
) -> ScanOutcome | None:
    """Ask the parcel's carrier where it is now and record what is new (the shop's "track now").
    A carrier that fails is asked again at the next round (``last_polled_at`` is stamped either
    way): None then, or, with ``raise_errors``, ``Refused`` (``carrier_refused``, a carrier that
    will keep refusing) or ``ServiceUnavailable`` (``carrier_unavailable``)."""
    shipment = repository.get_shipment(session, merchant_id, shipment_id, lock=True)
    if shipment is None or not shipment.tracking_number:
        raise NotFound("no such shipment")
    shipment.last_polled_at = clock.now()
    events = _ask_carrier(session, merchant_id, shipment, raise_errors=raise_errors)
    if events is None:
        return None
    return record_scans(session, merchant_id, shipment.id, events, source=shipment.carrier)


def _ask_carrier(
    session: Session, merchant_id: int, shipment: Shipment, *, raise_errors: bool = False
) -> list[TrackingEvent] | None:
    merchant = merchant_service.get_merchant(session, merchant_id)
    try:
        adapter = providers.adapter_named(shipment.carrier, providers.settings_of(merchant.settings))
        return adapter.track(shipment.tracking_number or "", tracking_carrier=shipment.tracking_carrier)
    except carriers.CarrierError as error:
        log.warning("tracking %s (%s) failed: %s", shipment.tracking_number, shipment.carrier, error)
        if not raise_errors:
            return None
        if isinstance(error, carriers.CarrierRetryableError):
            raise ServiceUnavailable(f"the carrier did not answer: {error}", code="carrier_unavailable") from error
        raise Refused(f"the carrier refused: {error}", code="carrier_refused") from error


def poll_all(factory: sessionmaker[Session], *, now: datetime | None = None, limit: int = 100) -> int:
    """One polling round over every shop. Each parcel is claimed in a short transaction (locked,
    skipped if another worker holds it, checked again and stamped), the carrier is asked with no
    write transaction open (its slowness holds no lock), and the new scans are recorded in
    another. A parcel that fails, whatever the reason, is logged and the round goes on. Returns
    how many parcels were asked."""
    now = now or clock.now()
    with unit_of_work(factory) as session:
        targets = [
            (merchant_id, shipment.id)
            for merchant_id in repository.merchant_ids(session)
            for shipment in parcels_to_poll(session, merchant_id, now, limit)
        ]
    asked = 0
    for merchant_id, shipment_id in targets:
        try:
            with unit_of_work(factory) as session:
                claimed = _claim_for_poll(session, merchant_id, shipment_id, now)
            if claimed is None:
                continue
            asked += 1
            with unit_of_work(factory, write=False) as session:
                shipment = repository.get_shipment(session, merchant_id, shipment_id)
                events = _ask_carrier(session, merchant_id, shipment) if shipment is not None else None
            if events:
                with unit_of_work(factory) as session:
                    record_scans(session, merchant_id, shipment_id, events, source=claimed)
        except Exception:
            log.exception("polling parcel %s of shop %s failed", shipment_id, merchant_id)
    return asked


def _claim_for_poll(session: Session, merchant_id: int, shipment_id: int, now: datetime) -> str | None:
    """Lock the parcel unless another worker has it, check it is still due, stamp it; its carrier."""
    shipment = repository.get_shipment(session, merchant_id, shipment_id, lock=True, skip_locked=True)
    if shipment is None or not rules.should_poll(
        shipment.status,
        shipment.carrier,
        shipment.tracking_number,
        clock.as_utc(shipment.last_polled_at) if shipment.last_polled_at else None,
        now,
    ):
        return None
    shipment.last_polled_at = now
    return shipment.carrier


# ---- Expiry ----------------------------------------------------------------------------------------


def expire_labels(session: Session, merchant_id: int, *, now: datetime | None = None) -> list[int]:
    """Labels never scanned by their expiry become ``label_expired``; a return that was approved
    and now has no parcel on its way and nothing received expires with them (``return.expired``:
    the customer is told). Returns the ids of the expired parcels. Safe to run from several
    workers at once (rows locked, already-expired ones skipped)."""
    now = now or clock.now()
    expired: list[int] = []
    for candidate in repository.expiring_labels(session, merchant_id, now):
        # The return first, then the parcel: the order receiving and cancelling lock them in, so
        # two of them never wait for each other.
        request = return_service.get_return(session, merchant_id, candidate.return_request_id, lock=True)
        shipment = repository.get_shipment(session, merchant_id, candidate.id, lock=True)
        if shipment is None or not rules.label_has_expired(
            shipment.status, clock.as_utc(shipment.label_expires_at) if shipment.label_expires_at else None, now
        ):
            continue
        shipment.status = "label_expired"
        shipment.updated_at = now
        _tell(
            session,
            shipment,
            "shipment.label_expired",
            SYSTEM,
            before={"status": "label_created"},
            after={"status": "label_expired"},
        )
        expired.append(shipment.id)
        others = [
            other
            for other in repository.shipments_of_return(session, merchant_id, request.id)
            if other.id != shipment.id and other.status in rules.ACTIVE_STATUSES
        ]
        received = any(line.received_quantity for line in request.lines)
        if request.status == "approved" and not others and not received:
            return_service.expire_return(
                session, merchant_id, request.id, actor=SYSTEM, note="label not used before it expired"
            )
    session.flush()
    return expired


def expire_all(factory: sessionmaker[Session], *, now: datetime | None = None) -> int:
    """Expire the labels of every shop, and give up on labels a carrier has not sold for two
    hours; one transaction per shop."""
    with unit_of_work(factory) as session:
        merchant_ids = repository.merchant_ids(session)
    total = 0
    for merchant_id in merchant_ids:
        with unit_of_work(factory) as session:
            total += len(expire_labels(session, merchant_id, now=now))
            shipment_service.fail_stale_pending_labels(session, merchant_id, now=now)
    return total


# ---- Pickups ---------------------------------------------------------------------------------------


def reschedule_pickup(
    session: Session,
    merchant_id: int,
    shipment_id: int,
    *,
    pickup_date: date | None,
    pickup_slot: str | None,
    actor: Actor,
    return_id: int | None = None,
) -> Shipment:
    """Move a home pickup to another offered slot before the courier came: audited on the
    return's timeline and told to the customer (outbox ``shipment.pickup_rescheduled``). The same
    slot again changes nothing. ``Conflict`` once collected, ``InvalidInput`` naming the field for
    a slot that is not offered; ``NotFound`` for a parcel of another shop or, when ``return_id`` is
    given (a page showing one return), of another return."""
    shipment = repository.get_shipment(session, merchant_id, shipment_id, lock=True)
    if shipment is None or (return_id is not None and shipment.return_request_id != return_id):
        raise NotFound("no such shipment")
    problem = rules.evaluate_reschedule(
        shipment.method, shipment.status, pickup_date, pickup_slot, today=clock.now().date()
    )
    if problem is not None:
        error_type = Conflict if problem.field in ("method", "status") else InvalidInput
        raise error_type(problem.en, field=problem.field, code=problem.code, extra={"message_fr": problem.fr})
    if (shipment.pickup_date, shipment.pickup_slot) == (pickup_date, pickup_slot):
        return shipment
    before: dict[str, Any] = {
        "pickup_date": shipment.pickup_date.isoformat() if shipment.pickup_date else None,
        "pickup_slot": shipment.pickup_slot,
    }
    shipment.pickup_date, shipment.pickup_slot = pickup_date, pickup_slot
    shipment.updated_at = clock.now()
    _tell(
        session,
        shipment,
        "shipment.pickup_rescheduled",
        actor,
        before=before,
        after={"pickup_date": pickup_date.isoformat() if pickup_date else None, "pickup_slot": pickup_slot},
    )
    session.flush()
    return shipment


# ---- Helpers ---------------------------------------------------------------------------------------


def _tell(
    session: Session,
    shipment: Shipment,
    action: str,
    actor: Actor,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    """An audit event on the parcel's return (its timeline) and an outbox message (emails,
    webhooks), in the caller's transaction."""
    facts = {"shipment_id": shipment.id, "tracking_number": shipment.tracking_number}
    audit_service.record(
        session,
        merchant_id=shipment.merchant_id,
        subject_type=SUBJECT,
        subject_id=shipment.return_request_id,
        action=action,
        actor=actor,
        before={**facts, **before} if before else None,
        after={**facts, **(after or {})},
    )
    outbox.enqueue(
        session,
        merchant_id=shipment.merchant_id,
        topic=action,
        payload={"return_id": shipment.return_request_id, **facts, **(after or {})},
    )
