"""The parcel back: offers (pickup slots, stores), the shipment with its label, its timeline and
cancellation, and the documents the customer downloads (label, packing slip, drop-off QR code).

Labels are stored under ``<storage>/<merchant_id>/labels/<RMA>.pdf`` (written atomically); the
file is only a cache of what the shipment row says and is drawn again when it is missing."""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from retour.audit import service as audit_service
from retour.catalog import service as catalog_service
from retour.inventory import service as inventory_service
from retour.kit import clock, i18n
from retour.kit.actor import Actor
from retour.kit.errors import Conflict, InvalidInput, NotFound, Refused, ServiceUnavailable
from retour.merchant import service as merchant_service
from retour.models import Merchant, Order, ReturnRequest, Shipment
from retour.models.shipment import SHIPMENT_METHODS
from retour.order import service as order_service
from retour.outbox import service as outbox
from retour.policy import service as policy_service
from retour.return_request import service as return_service
from retour.settings import get_settings
from retour.shipment import carriers, documents, providers, repository, rules
from retour.shipment.rules import Address, PickupSlot, Store

SUBJECT = "return_request"
log = logging.getLogger("retour.shipment")
LABEL_CREATED = "shipment.label_created"
LABEL_REQUESTED = "shipment.label_requested"
CANCELLABLE_STATUSES = rules.CANCELLABLE_STATUSES
SYSTEM_ACTOR = Actor.system("Retour")
LABEL_FAILED = "shipment.label_failed"
CANCELLED = "shipment.cancelled"
# A label is made only once the return is approved (a return under review waits for a person).
LABEL_STATUSES = ("approved", "in_progress")


# ---- Offers ----------------------------------------------------------------------------------------


def pickup_slots(today: date) -> list[PickupSlot]:
    return rules.pickup_slots(today)


def stores_for(session: Session, merchant: Merchant) -> list[Store]:
    """Where a return can be dropped in store: the shop's active store locations, else the
    stores of its settings (shops that have not created locations)."""
    return rules.offered_stores(_locations(session, merchant.id), merchant.settings or {})


def return_address_for(session: Session, merchant: Merchant, country: str) -> Address:
    """Where a parcel from ``country`` comes back: the active location serving it (a warehouse
    before a store), else the default location, else the addresses of the shop's settings."""
    return rules.evaluate_return_address(
        _locations(session, merchant.id), merchant.settings or {}, country, shop_name=merchant.name
    )


def _locations(session: Session, merchant_id: int) -> list[rules.Location]:
    return [
        rules.Location(
            code=location.code,
            name=location.name,
            kind=location.kind,
            address=dict(location.address or {}),
            countries_served=tuple(str(country).upper() for country in location.countries_served or ()),
            is_default=location.is_default,
        )
        for location in inventory_service.list_locations(session, merchant_id)
    ]


# ---- Shipments -------------------------------------------------------------------------------------


def create_shipment(
    session: Session,
    merchant_id: int,
    request: ReturnRequest,
    *,
    method: str,
    pickup_date: date | None = None,
    pickup_slot: str | None = None,
    store_code: str | None = None,
    actor: Actor,
    storage_dir: Path | None = None,
    defer_carrier: bool = False,
    language: str | None = None,
) -> Shipment:
    """The next parcel of ``request``: checks the method's choices (``InvalidInput`` naming the
    field), has the carrier make the label (in ``language``, the portal's, else the order's),
    stores its PDF and records ``shipment.label_created`` (audit event on the return, outbox
    message). ``Conflict`` (``return_not_approved``) unless the
    return is approved or in progress; ``NotFound`` if it is not this shop's. With
    ``defer_carrier``, a label a real carrier must sell is bought later by the worker: the parcel
    is recorded as ``label_pending`` (``buy_pending_label``)."""
    if method not in SHIPMENT_METHODS:
        raise InvalidInput(f"unknown return method {method!r}", field="method", code="invalid_method")
    # Scoped re-read under lock: a return of another shop is not found, and two requests for the
    # same return cannot both take the same parcel number (hence the same tracking number).
    request = return_service.get_return(session, merchant_id, request.id, lock=True)
    if request.status not in LABEL_STATUSES:
        raise Conflict(
            f"a return that is {request.status} gets no label",
            code="return_not_approved",
            extra={"status": request.status},
        )
    today = clock.now().date()
    merchant = merchant_service.get_merchant(session, merchant_id)
    if method == "home_pickup":
        problem = rules.evaluate_pickup(pickup_date, pickup_slot, today=today)
        if problem is not None:
            raise InvalidInput(problem.en, field=problem.field, code=problem.code, extra={"message_fr": problem.fr})
    else:
        pickup_date = pickup_slot = None
    if method == "in_store":
        stores = stores_for(session, merchant)
        if stores and store_code not in {store.code for store in stores}:
            raise InvalidInput(
                "choose one of the shop's stores",
                field="store_code",
                code="store_invalid",
                extra={"message_fr": "choisissez un des magasins de la boutique"},
            )
    else:
        store_code = None
    order = order_service.get_order(session, merchant_id, request.order_id, tenders=False)
    parcel = len(repository.shipments_of_return(session, merchant_id, request.id)) + 1
    settings = providers.settings_of(merchant.settings)
    shipment = Shipment(
        merchant_id=merchant_id,
        return_request_id=request.id,
        method=method,
        carrier=settings.provider if method in rules.CARRIER_METHODS else "builtin",
        status="label_pending",
        pickup_date=pickup_date,
        pickup_slot=pickup_slot,
        store_code=store_code,
    )
    if defer_carrier and shipment.carrier != "builtin":
        # The customer should not wait for (or be refused by) a carrier's API: the parcel is
        # recorded now and the worker buys its label (outbox ``shipment.label_requested``).
        session.add(shipment)
        session.flush()
        facts = {"shipment_id": shipment.id, "method": method, "carrier": shipment.carrier, "status": shipment.status}
        _tell(session, request, LABEL_REQUESTED, actor, facts)
        return shipment
    label_request = _label_request(
        session, merchant, order, request, method, store_code, parcel, today, language=language
    )
    carrier, label = _make_label(merchant, method, label_request)
    session.add(shipment)
    _record_label(session, merchant_id, request, shipment, carrier.name, label, parcel, actor, storage_dir)
    return shipment


def buy_pending_label(
    session: Session, merchant_id: int, shipment_id: int, *, actor: Actor, storage_dir: Path | None = None
) -> Shipment:
    """Buy the label of a parcel recorded as ``label_pending`` (or ``label_failed``, to try again
    once the order is fixed). A carrier's refusal is kept on the parcel (``label_failed`` with its
    reason, ``shipment.label_failed`` told to the shop) rather than raised: it would only refuse
    again. An unavailable carrier raises ``ServiceUnavailable`` (the outbox retries). Nothing
    happens to a parcel that has its label, or was cancelled meanwhile."""
    shipment = repository.get_shipment(session, merchant_id, shipment_id, lock=True)
    if shipment is None:
        raise NotFound("no such shipment")
    if shipment.status not in ("label_pending", "label_failed"):
        return shipment
    request = return_service.get_return(session, merchant_id, shipment.return_request_id)
    if request.status not in LABEL_STATUSES:
        return shipment
    merchant = merchant_service.get_merchant(session, merchant_id)
    order = order_service.get_order(session, merchant_id, request.order_id, tenders=False)
    parcels = [s.id for s in repository.shipments_of_return(session, merchant_id, request.id)]
    parcel = parcels.index(shipment.id) + 1
    label_request = _label_request(
        session, merchant, order, request, shipment.method, shipment.store_code, parcel, clock.now().date()
    )
    try:
        carrier, label = _make_label(merchant, shipment.method, label_request)
    except Refused as refused:
        _fail_label(session, merchant_id, request, shipment, refused.detail, actor)
        return shipment
    shipment.failure_reason = None
    _record_label(session, merchant_id, request, shipment, carrier.name, label, parcel, actor, storage_dir)
    return shipment


PENDING_LABEL_PATIENCE = timedelta(hours=2)


def fail_stale_pending_labels(session: Session, merchant_id: int, *, now: datetime | None = None) -> list[int]:
    """A label still not bought two hours after it was asked for (the carrier down all that time,
    the outbox message dead-lettered) becomes ``label_failed``, so that the shop sees it on the
    return and the customer is not told "a minute" forever. Returns the parcels failed."""
    now = now or clock.now()
    failed = []
    for shipment in repository.pending_labels(session, merchant_id, now - PENDING_LABEL_PATIENCE):
        locked = repository.get_shipment(session, merchant_id, shipment.id, lock=True, skip_locked=True)
        if locked is None or locked.status != "label_pending":
            continue
        request = return_service.get_return(session, merchant_id, locked.return_request_id)
        _fail_label(session, merchant_id, request, locked, "the carrier did not answer for two hours", SYSTEM_ACTOR)
        failed.append(locked.id)
    return failed


def _fail_label(
    session: Session, merchant_id: int, request: ReturnRequest, shipment: Shipment, reason: str, actor: Actor
) -> None:
    before = shipment.status
    shipment.status, shipment.failure_reason = "label_failed", reason[:500]
    shipment.updated_at = clock.now()
    facts = {"shipment_id": shipment.id, "carrier": shipment.carrier, "reason": shipment.failure_reason}
    _tell(
        session,
        request,
        LABEL_FAILED,
        actor,
        {**facts, "status": "label_failed"},
        before={"shipment_id": shipment.id, "status": before},
    )


def _record_label(
    session: Session,
    merchant_id: int,
    request: ReturnRequest,
    shipment: Shipment,
    carrier: str,
    label: carriers.LabelResult,
    parcel: int,
    actor: Actor,
    storage_dir: Path | None,
) -> None:
    """Store the label's PDF and fill the parcel with what the carrier gave, then record
    ``shipment.label_created`` (audit event on the return, outbox message)."""
    relative = Path(str(merchant_id), "labels", rules.label_filename(request.number, parcel))
    if label.pdf:
        _write_atomically(_storage(storage_dir) / relative, label.pdf)
    validity = policy_service.get_version(session, merchant_id, request.policy_version).document.defaults
    shipment.carrier = carrier
    shipment.tracking_number = label.tracking_number
    shipment.status = "label_created"
    shipment.label_path = relative.as_posix()
    shipment.qr_payload = label.qr_payload
    shipment.label_expires_at = clock.now() + timedelta(days=validity.label_validity_days) if label.expires_on else None
    shipment.carrier_reference = label.carrier_reference
    shipment.label_url = label.label_url
    shipment.tracking_carrier = label.tracking_carrier
    shipment.updated_at = clock.now()
    session.flush()
    facts = {
        "shipment_id": shipment.id,
        "method": shipment.method,
        "carrier": carrier,
        "tracking_number": label.tracking_number,
        "status": shipment.status,
    }
    _tell(session, request, LABEL_CREATED, actor, facts)


def _tell(
    session: Session,
    request: ReturnRequest,
    action: str,
    actor: Actor,
    facts: dict[str, Any],
    *,
    before: dict[str, Any] | None = None,
) -> None:
    """An audit event on the return (its timeline) and an outbox message with the same facts."""
    audit_service.record(
        session,
        merchant_id=request.merchant_id,
        subject_type=SUBJECT,
        subject_id=request.id,
        action=action,
        actor=actor,
        before=before,
        after=facts,
    )
    outbox.enqueue(
        session,
        merchant_id=request.merchant_id,
        topic=action,
        payload={"return_id": request.id, "rma_number": request.number, **facts},
    )


def _make_label(
    merchant: Merchant, method: str, label_request: carriers.LabelRequest
) -> tuple[carriers.CarrierAdapter, carriers.LabelResult]:
    """The shop's carrier buys the label of a parcel that travels with a carrier; the built-in one
    draws the others (a return in store, a parcel the customer ships). A carrier's refusal is a
    422 naming it, its unavailability a 503: either way nothing is recorded, so it can be tried
    again (and a return approved after review is retried by the outbox)."""
    settings = providers.settings_of(merchant.settings)
    try:
        carrier = (
            providers.adapter_for(settings) if method in rules.CARRIER_METHODS else carriers.carrier_for("builtin")
        )
        return carrier, carrier.create_label(label_request)
    except carriers.LabelPurchased as bought:
        # Paid for: record the parcel as it is, and fetch the file when it is asked for.
        log.warning("label of %s bought but not fetched: %s", label_request.rma_number, bought)
        return carrier, carriers.LabelResult(
            tracking_number=bought.tracking_number,
            qr_payload=rules.qr_payload(label_request.rma_number, bought.tracking_number),
            pdf=b"",
            expires_on=label_request.today + timedelta(days=rules.LABEL_VALIDITY_DAYS),
            carrier_reference=bought.carrier_reference,
            label_url=bought.label_url,
            tracking_carrier=bought.tracking_carrier,
        )
    except carriers.CarrierRetryableError as error:
        raise ServiceUnavailable(
            f"the carrier could not make the label now ({error}); try again in a few minutes",
            code="carrier_unavailable",
            extra={"carrier": settings.provider},
        ) from error
    except carriers.CarrierFinalError as error:
        raise Refused(
            f"the carrier refused the label: {error}", code="carrier_refused", extra={"carrier": settings.provider}
        ) from error


def get_shipment(session: Session, merchant_id: int, shipment_id: int) -> Shipment:
    shipment = repository.get_shipment(session, merchant_id, shipment_id)
    if shipment is None:
        raise NotFound("no such shipment")
    return shipment


def carrier_settings(session: Session, merchant_id: int) -> providers.CarrierSettings:
    return providers.settings_of(merchant_service.get_merchant(session, merchant_id).settings)


def set_carrier_settings(
    session: Session,
    merchant_id: int,
    *,
    provider: str,
    api_key: str | None,
    webhook_secret: str | None,
    preferred_service: str = "",
    tracking_carrier: str = "",
    actor: Actor,
) -> providers.CarrierSettings:
    """Choose the shop's carrier. A secret left out keeps the current one (they are never shown
    back); a real carrier needs its API key. Audited with the secrets masked."""
    if provider not in providers.PROVIDERS:
        raise InvalidInput(f"unknown carrier {provider!r}", field="provider", code="invalid_provider")
    merchant = merchant_service.get_merchant(session, merchant_id)
    current = providers.settings_of(merchant.settings)
    same = current.provider == provider
    updated = providers.CarrierSettings(
        provider=provider,
        api_key=api_key if api_key is not None else (current.api_key if same else ""),
        webhook_secret=webhook_secret if webhook_secret is not None else (current.webhook_secret if same else ""),
        preferred_service=preferred_service,
        tracking_carrier=tracking_carrier,
    )
    if provider != "builtin" and not updated.api_key:
        raise InvalidInput(f"{provider} needs the shop's API key", field="api_key", code="api_key_required")
    merchant.settings = {
        **(merchant.settings or {}),
        "carrier": {
            "provider": updated.provider,
            "api_key": updated.api_key,
            "webhook_secret": updated.webhook_secret,
            "preferred_service": updated.preferred_service,
            "tracking_carrier": updated.tracking_carrier,
        },
    }
    audit_service.record(
        session,
        merchant_id=merchant_id,
        subject_type="merchant",
        subject_id=merchant_id,
        action="merchant.carrier_changed",
        actor=actor,
        before=current.public(),
        after=updated.public(),
    )
    session.flush()
    return updated


def list_shipments(session: Session, merchant_id: int, return_id: int) -> list[Shipment]:
    return repository.shipments_of_return(session, merchant_id, return_id)


def timeline(session: Session, merchant_id: int, shipment: Shipment) -> list[Any]:
    """The audit events of this parcel (recorded on its return, ``shipment.*``), oldest first."""
    events = audit_service.timeline(session, merchant_id, SUBJECT, shipment.return_request_id)
    return [
        event
        for event in events
        if event.action.startswith("shipment.")
        and (
            (event.after or {}).get("shipment_id") == shipment.id
            or (event.before or {}).get("shipment_id") == shipment.id
        )
    ]


def cancel_shipment(session: Session, merchant_id: int, shipment: Shipment, *, actor: Actor) -> None:
    """Void a parcel that has not left (its label can no longer be used). Idempotent."""
    if shipment.merchant_id != merchant_id:
        raise NotFound("no such shipment")
    if shipment.status == "cancelled":
        return
    if shipment.status not in rules.CANCELLABLE_STATUSES:
        raise Conflict("the parcel is already on its way: it can no longer be cancelled", code="already_shipped")
    before = {"shipment_id": shipment.id, "status": shipment.status}
    shipment.status = "cancelled"
    shipment.updated_at = clock.now()
    audit_service.record(
        session,
        merchant_id=merchant_id,
        subject_type=SUBJECT,
        subject_id=shipment.return_request_id,
        action=CANCELLED,
        actor=actor,
        before=before,
        after={"shipment_id": shipment.id, "status": "cancelled"},
    )


# ---- Documents -------------------------------------------------------------------------------------


def get_label_pdf(session: Session, merchant_id: int, shipment: Shipment, *, storage_dir: Path | None = None) -> bytes:
    """The parcel's label. If the stored file is missing, a built-in label is drawn again (same
    data, same bytes) and a carrier's is fetched again from the carrier; a carrier's label is
    never redrawn (the carrier would not take it). Stored once got."""
    if shipment.merchant_id != merchant_id:
        raise NotFound("no such shipment")
    if shipment.status in ("label_pending", "label_failed"):
        raise NotFound("the label is not ready", code="label_not_ready")
    root = _storage(storage_dir)
    request = return_service.get_return(session, merchant_id, shipment.return_request_id)
    parcels = [parcel.id for parcel in repository.shipments_of_return(session, merchant_id, request.id)]
    parcel = parcels.index(shipment.id) + 1 if shipment.id in parcels else 1
    relative = Path(
        shipment.label_path or Path(str(merchant_id), "labels", rules.label_filename(request.number, parcel))
    )
    path = root / relative
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    merchant = merchant_service.get_merchant(session, merchant_id)
    if shipment.carrier != "builtin":
        if not shipment.label_url:
            raise NotFound("the carrier's label file is missing", code="label_not_ready")
        try:
            adapter = providers.adapter_named(shipment.carrier, providers.settings_of(merchant.settings))
            pdf = adapter.download_label(shipment.label_url)
        except carriers.CarrierError as error:
            raise ServiceUnavailable(
                f"the carrier's label could not be fetched now ({error})", code="carrier_unavailable"
            ) from error
        _write_atomically(path, pdf)
        if shipment.label_path is None:
            shipment.label_path = relative.as_posix()
        return pdf
    order = order_service.get_order(session, merchant_id, request.order_id, tenders=False)
    expires = shipment.label_expires_at
    label_request = _label_request(
        session, merchant, order, request, shipment.method, shipment.store_code, parcel, (expires or clock.now()).date()
    )
    payload = shipment.qr_payload or rules.qr_payload(request.number, shipment.tracking_number)
    pdf = documents.render_label_pdf(
        carriers.label_data(
            label_request,
            shipment.tracking_number,
            payload,
            expires.date() if expires else None,
            carrier=shipment.carrier,
        )
    )
    _write_atomically(path, pdf)
    if shipment.label_path is None:
        shipment.label_path = relative.as_posix()
    return pdf


def render_packing_slip_pdf(
    session: Session, merchant_id: int, request: ReturnRequest, *, language: str | None = None
) -> bytes:
    """The slip that goes in the box: the return's items with the shop's label of each reason,
    the return address, what to do; in ``language`` (the portal page's), else the order's."""
    merchant = merchant_service.get_merchant(session, merchant_id)
    order = order_service.get_order(session, merchant_id, request.order_id, tenders=False)
    shipments = [s for s in repository.shipments_of_return(session, merchant_id, request.id) if s.status != "cancelled"]
    method = shipments[-1].method if shipments else request.method
    store_code = shipments[-1].store_code if shipments else None
    order_lines = repository.order_lines(session, merchant_id, [line.order_line_id for line in request.lines])
    language = i18n.normalize(language) if language else _language(order)
    labels = {r.code: (r.label_en, r.label_fr) for r in policy_service.list_reasons(session, merchant_id)}
    items = [
        documents.PackingSlipItem(
            sku=order_lines[line.order_line_id].sku if line.order_line_id in order_lines else "",
            title=order_lines[line.order_line_id].title if line.order_line_id in order_lines else "",
            quantity=line.approved_quantity or line.requested_quantity,
            reason=documents.reason_label(line.reason_code, labels, language),
        )
        for line in request.lines
    ]
    return documents.render_packing_slip_pdf(
        documents.PackingSlipData(
            shop_name=merchant.name,
            rma_number=request.number,
            order_number=order.number,
            customer_name=order.customer_name or order.email,
            created_on=request.created_at.date(),
            return_address=_recipient(session, merchant, order, method, store_code),
            method=method,
            items=items,
            language=language,
        )
    )


def drop_off_qr_png(shipment: Shipment) -> bytes:
    """The parcel's QR code (``RETOUR;RMA=..;TRK=..``) as a PNG, to show at the drop-off point."""
    if not shipment.qr_payload:
        raise NotFound("this parcel has no QR code")
    return documents.qr_png(shipment.qr_payload)


# ---- Helpers ---------------------------------------------------------------------------------------


def _storage(storage_dir: Path | None) -> Path:
    return Path(storage_dir) if storage_dir is not None else get_settings().storage_dir


def _language(order: Order) -> str:
    return "en" if (order.language or "").lower().startswith("en") else "fr"


def _recipient(session: Session, merchant: Merchant, order: Order, method: str, store_code: str | None) -> Address:
    if method == "in_store" and store_code:
        store = next((s for s in stores_for(session, merchant) if s.code == store_code), None)
        if store is not None:
            return store.as_address()
    return return_address_for(session, merchant, order.country)


def _label_request(
    session: Session,
    merchant: Merchant,
    order: Order,
    request: ReturnRequest,
    method: str,
    store_code: str | None,
    parcel: int,
    today: date,
    *,
    language: str | None = None,
) -> carriers.LabelRequest:
    sender = _sender(order)
    return carriers.LabelRequest(
        merchant_id=merchant.id,
        rma_number=request.number,
        parcel=parcel,
        method=method,
        shop_name=merchant.name,
        sender=sender,
        recipient=_recipient(session, merchant, order, method, store_code),
        today=today,
        language=i18n.normalize(language) if language else _language(order),
        currency=order.currency,
        weight_grams=_parcel_weight_grams(session, merchant.id, request),
        reference=f"retour:{merchant.id}:{request.number}:{parcel}",
    )


def _parcel_weight_grams(session: Session, merchant_id: int, request: ReturnRequest) -> int:
    """The return's items at their catalogue weight (milligrams), in whole grams rounded up; 0
    when one has no weight."""
    order_lines = repository.order_lines(session, merchant_id, [line.order_line_id for line in request.lines])
    skus = [line.sku for line in order_lines.values()]
    variants = catalog_service.find_variants(session, merchant_id, skus)
    items = []
    for line in request.lines:
        order_line = order_lines.get(line.order_line_id)
        found = variants.get(order_line.sku) if order_line else None
        items.append((found[0].weight_mg if found else None, line.approved_quantity or line.requested_quantity))
    return rules.parcel_weight_grams(items)


def _sender(order: Order) -> Address:
    """The customer as the label's sender: the delivery address the shop sent, else what the
    order always has (name, postal code, country: enough for the built-in label)."""
    address = order.shipping_address or {}
    return Address(
        name=str(address.get("name") or order.customer_name or order.email),
        lines=tuple(str(line) for line in address.get("lines") or () if line),
        postal_code=str(address.get("postal_code") or order.postal_code or ""),
        city=str(address.get("city") or ""),
        country=str(address.get("country") or order.country or "").upper(),
    )


def _write_atomically(path: Path, data: bytes) -> None:
    """Write to a temporary file of the same folder, flush it to disk, then rename it over
    ``path``: a reader sees the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
