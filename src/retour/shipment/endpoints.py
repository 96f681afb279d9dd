"""Parcel JSON routes: a return's parcels with their scans, a label asked for, scans sent by the
shop's own systems, a pickup moved, tracking asked now, the shop's carrier account; and the
carriers' own webhooks (outside /api/v1: the carrier signs them, no API key)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from retour.api import problems
from retour.api.deps import DbSession, Reader, Writer
from retour.kit.db import unit_of_work
from retour.kit.errors import PayloadTooLarge, ServiceUnavailable
from retour.merchant import service as merchant_service
from retour.return_request import service as return_service
from retour.shipment import service, tracking
from retour.shipment.carriers import TrackingEvent
from retour.shipment.providers import CarrierSettings
from retour.shipment.schemas import (
    MAX_ID,
    CarrierSettingsIn,
    CarrierSettingsOut,
    PickupIn,
    ScanOutcomeOut,
    ScansIn,
    ShipmentIn,
    ShipmentOut,
    WebhookAcceptedOut,
    shipment_out,
)

router = APIRouter(tags=["shipments"])
webhook_router = APIRouter(tags=["webhooks"])
ReturnId = Annotated[int, Path(ge=1, le=MAX_ID)]
ShipmentId = Annotated[int, Path(ge=1, le=MAX_ID)]
WEBHOOK_PATH = "/webhooks/carriers/{provider}/{shop_slug}"


def _out(session: DbSession, merchant_id: int, shipment_id: int) -> ShipmentOut:
    shipment = service.get_shipment(session, merchant_id, shipment_id)
    return shipment_out(shipment, tracking.events_of(session, merchant_id, shipment.id))


@router.get("/returns/{return_id}/shipments", response_model=list[ShipmentOut], responses=problems.responses(404))
def list_shipments(return_id: ReturnId, session: DbSession, caller: Reader) -> list[ShipmentOut]:
    """The return's parcels, first first, each with its carrier scans (oldest first)."""
    request = return_service.get_return(session, caller.merchant_id, return_id)
    return [
        shipment_out(shipment, tracking.events_of(session, caller.merchant_id, shipment.id))
        for shipment in service.list_shipments(session, caller.merchant_id, request.id)
    ]


@router.post(
    "/returns/{return_id}/shipments",
    status_code=201,
    response_model=ShipmentOut,
    responses=problems.responses(404, 409),
)
def create_shipment(return_id: ReturnId, data: ShipmentIn, session: DbSession, caller: Writer) -> ShipmentOut:
    """The return's next parcel: the shop's carrier buys the label (or the built-in one draws it).
    409 ``return_not_approved``; 422 ``carrier_refused`` with the carrier's reason; 503
    ``carrier_unavailable`` when the carrier does not answer (nothing is recorded: try again)."""
    request = return_service.get_return(session, caller.merchant_id, return_id)
    shipment = service.create_shipment(
        session,
        caller.merchant_id,
        request,
        method=data.method,
        pickup_date=data.pickup_date,
        pickup_slot=data.pickup_slot,
        store_code=data.store_code,
        actor=caller.actor,
    )
    return shipment_out(shipment, [])


@router.get("/shipments/{shipment_id}", response_model=ShipmentOut, responses=problems.responses(404))
def get_shipment(shipment_id: ShipmentId, session: DbSession, caller: Reader) -> ShipmentOut:
    return _out(session, caller.merchant_id, shipment_id)


@router.post("/shipments/{shipment_id}/scans", response_model=ScanOutcomeOut, responses=problems.responses(404))
def add_scans(shipment_id: ShipmentId, data: ScansIn, session: DbSession, caller: Writer) -> ScanOutcomeOut:
    """Scans from the shop's own carrier integration. They move the parcel forward only
    (``in_transit``, ``delivered``); a scan sent twice (same ``external_id``) is stored once."""
    shipment = service.get_shipment(session, caller.merchant_id, shipment_id)
    events = [
        TrackingEvent(
            at=scan.at,
            status=scan.status,
            description=scan.description,
            external_id=scan.external_id
            or tracking.scan_id(shipment.tracking_number or str(shipment.id), scan.status, scan.at, scan.description),
            location=scan.location,
            tracking_number=shipment.tracking_number or "",
        )
        for scan in data.scans
    ]
    outcome = tracking.record_scans(session, caller.merchant_id, shipment.id, events, source="api", actor=caller.actor)
    return ScanOutcomeOut(**outcome.__dict__)


@router.post("/shipments/{shipment_id}/track", response_model=ScanOutcomeOut, responses=problems.responses(404))
def track_now(shipment_id: ShipmentId, session: DbSession, caller: Writer) -> ScanOutcomeOut:
    """Ask the parcel's carrier now rather than at the next polling round. 503
    ``carrier_unavailable`` if the carrier does not answer, 422 ``carrier_refused`` if it refuses
    (an unknown number, the shop's key revoked)."""
    shipment = service.get_shipment(session, caller.merchant_id, shipment_id)
    outcome = tracking.poll_parcel(session, caller.merchant_id, shipment.id, raise_errors=True)
    if outcome is None:  # not reached: with raise_errors a failure raises
        raise ServiceUnavailable("the carrier did not answer; try again later", code="carrier_unavailable")
    return ScanOutcomeOut(**outcome.__dict__)


@router.post("/shipments/{shipment_id}/label", response_model=ShipmentOut, responses=problems.responses(404))
def buy_label(shipment_id: ShipmentId, session: DbSession, caller: Writer) -> ShipmentOut:
    """Buy now the label of a parcel waiting for it (``label_pending``), or try again one the
    carrier refused (``label_failed``, once the order's address is fixed). A refusal is answered
    with the parcel still ``label_failed`` and its ``failure_reason``; 503 ``carrier_unavailable``
    if the carrier does not answer. A parcel that has its label is answered as it is."""
    service.buy_pending_label(session, caller.merchant_id, shipment_id, actor=caller.actor)
    return _out(session, caller.merchant_id, shipment_id)


@router.post("/shipments/{shipment_id}/pickup", response_model=ShipmentOut, responses=problems.responses(404, 409))
def reschedule_pickup(shipment_id: ShipmentId, data: PickupIn, session: DbSession, caller: Writer) -> ShipmentOut:
    """Move a home pickup to another slot (a working day among the next ten). 409 ``not_a_pickup``
    or ``pickup_done``."""
    tracking.reschedule_pickup(
        session,
        caller.merchant_id,
        shipment_id,
        pickup_date=data.pickup_date,
        pickup_slot=data.pickup_slot,
        actor=caller.actor,
    )
    return _out(session, caller.merchant_id, shipment_id)


def _settings_out(session: DbSession, merchant_id: int, settings: CarrierSettings) -> CarrierSettingsOut:
    slug = merchant_service.get_merchant(session, merchant_id).slug
    public = settings.public()
    return CarrierSettingsOut(
        **public,
        webhook_url_path=(
            WEBHOOK_PATH.format(provider=settings.provider, shop_slug=slug) if settings.provider != "builtin" else None
        ),
    )


@router.get("/settings/carrier", response_model=CarrierSettingsOut)
def get_carrier(session: DbSession, caller: Reader) -> CarrierSettingsOut:
    """The shop's carrier; secrets only as their last characters."""
    return _settings_out(session, caller.merchant_id, service.carrier_settings(session, caller.merchant_id))


@router.put("/settings/carrier", response_model=CarrierSettingsOut)
def put_carrier(data: CarrierSettingsIn, session: DbSession, caller: Writer) -> CarrierSettingsOut:
    """Choose the shop's carrier (``builtin``, ``shippo``, ``easypost``) and its credentials. The
    answer gives the webhook address to set in the carrier's dashboard."""
    settings = service.set_carrier_settings(
        session,
        caller.merchant_id,
        provider=data.provider,
        api_key=data.api_key,
        webhook_secret=data.webhook_secret,
        preferred_service=data.preferred_service,
        tracking_carrier=data.tracking_carrier,
        actor=caller.actor,
    )
    return _settings_out(session, caller.merchant_id, settings)


@webhook_router.post(
    WEBHOOK_PATH,
    status_code=202,
    response_model=WebhookAcceptedOut,
    responses=problems.responses(400, 401, 404, 413, 422, 503),
)
async def carrier_webhook(
    provider: Annotated[str, Path(pattern=r"^(shippo|easypost)$")],
    shop_slug: Annotated[str, Path(min_length=1, max_length=100)],
    request: Request,
    response: Response,
) -> WebhookAcceptedOut:
    """A carrier's tracking webhook for one shop: verified with the shop's webhook secret (401
    ``webhook_signature_invalid``), stored, answered 202; the worker then applies its scans. A
    delivery sent again is answered 200 with ``duplicate: true`` and stored once. Shippo has no
    signature: its webhook URL carries ``?token=<webhook secret>``."""
    body = await _bounded_body(request)
    headers = dict(request.headers)
    token = request.query_params.get("token")
    if token is not None:
        headers["x-retour-token"] = token
    return await run_in_threadpool(_store_webhook, request, provider, shop_slug, headers, body, response)


# A tracking webhook is a few kilobytes; anything far larger is not one (and is never stored).
MAX_WEBHOOK_BYTES = 256 * 1024


async def _bounded_body(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_WEBHOOK_BYTES:
        raise PayloadTooLarge(f"a webhook body is at most {MAX_WEBHOOK_BYTES} bytes", code="payload_too_large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_WEBHOOK_BYTES:
            raise PayloadTooLarge(f"a webhook body is at most {MAX_WEBHOOK_BYTES} bytes", code="payload_too_large")
    return bytes(body)


def _store_webhook(
    request: Request, provider: str, shop_slug: str, headers: dict[str, str], body: bytes, response: Response
) -> WebhookAcceptedOut:
    with unit_of_work(request.app.state.session_factory) as session:
        row, new = tracking.receive_webhook(session, shop_slug=shop_slug, provider=provider, headers=headers, body=body)
        accepted = WebhookAcceptedOut(id=row.id, duplicate=not new)
    if not new:
        response.status_code = 200
    return accepted
