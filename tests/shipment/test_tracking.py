"""Tracking on both databases: scans move a parcel forward only and are stored once, webhooks are
verified, stored first and applied by the worker, polling asks real carriers only, labels expire
with their return, pickups move to another slot; a shop's carrier makes the label, and its
failures leave nothing behind."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from retour import tasks  # noqa: F401  (registers the outbox handlers)
from retour.kit import clock
from retour.kit.db import unit_of_work
from retour.kit.errors import Conflict, InvalidInput, NotFound, Refused, ServiceUnavailable, Unauthorized
from retour.models import (
    AuditEvent,
    InboundWebhook,
    Merchant,
    OutboxMessage,
    ReturnRequest,
    Shipment,
    ShipmentEvent,
)
from retour.outbox import service as outbox_service
from retour.policy import service as policy_service
from retour.return_request import service as return_service
from retour.shipment import providers, tracking
from retour.shipment import service as shipment_service
from retour.shipment.carriers import (
    CarrierFinalError,
    CarrierRetryableError,
    LabelPurchased,
    LabelRequest,
    LabelResult,
    Rate,
    TrackingEvent,
    WebhookRejected,
)
from tests import factories
from tests.warehouse.builders import AGENT, create_return

SECRET = "whsec-test-0123456789"
NOW = datetime(2030, 1, 7, 9, 0, tzinfo=UTC)  # a Monday


class FakeCarrier:
    """A carrier with a scripted answer per call: labels numbered FK<n>, scans per tracking number,
    webhooks signed with HMAC-SHA256 of the body in ``x-fake-signature``."""

    name = "easypost"

    def __init__(self) -> None:
        self.scans: dict[str, list[TrackingEvent]] = {}
        self.fail_with: Exception | None = None
        self.labels = 0
        self.tracked: list[str] = []
        self.file_lost = False
        self.broken: set[str] = set()
        self.downloads: list[str] = []

    def create_label(self, request: LabelRequest) -> LabelResult:
        if self.fail_with is not None:
            raise self.fail_with
        self.labels += 1
        if self.file_lost:
            raise LabelPurchased(
                "bought, but the PDF did not download",
                tracking_number=f"FK{request.merchant_id}{request.rma_number}{request.parcel}",
                carrier_reference=f"shp_{request.reference}",
                label_url="https://files.example/label.pdf",
                tracking_carrier="ups",
            )
        return LabelResult(
            tracking_number=f"FK{request.merchant_id}{request.rma_number}{request.parcel}",
            qr_payload=f"RETOUR;RMA={request.rma_number}",
            pdf=b"%PDF-1.4 fake label",
            expires_on=request.today + timedelta(days=30),
            carrier_reference=f"shp_{request.reference}",
        )

    def rates(self, request: LabelRequest) -> list[Rate]:
        return [Rate("r1", "Colissimo", "retour", 650, request.currency)]

    def track(self, tracking_number: str, *, tracking_carrier: str | None = None) -> list[TrackingEvent]:
        self.tracked.append(tracking_number)
        if self.fail_with is not None:
            raise self.fail_with
        if tracking_number in self.broken:
            raise RuntimeError("a bug in the adapter")
        return self.scans.get(tracking_number, [])

    def download_label(self, url: str) -> bytes:
        self.downloads.append(url)
        return b"%PDF-1.4 downloaded again"

    def verify_webhook(self, headers: Mapping[str, str], body: bytes, secret: str) -> None:
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(headers.get("x-fake-signature", ""), expected):
            raise WebhookRejected("signature does not match")

    def webhook_id(self, body: bytes) -> str:
        try:
            return str(json.loads(body)["id"])
        except (ValueError, KeyError) as error:
            raise WebhookRejected("not a webhook") from error

    def parse_webhook(self, body: bytes) -> list[TrackingEvent]:
        data = json.loads(body)
        return [
            TrackingEvent(
                at=datetime.fromisoformat(scan["at"]),
                status=scan["status"],
                description=scan.get("description", ""),
                external_id=scan["id"],
                tracking_number=data["tracking_code"],
            )
            for scan in data.get("scans", [])
        ]


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCarrier]:
    carrier = FakeCarrier()
    monkeypatch.setitem(providers.FACTORIES, "easypost", lambda settings: carrier)
    yield carrier


def _use_fake(merchant: Merchant) -> None:
    merchant.settings = {
        **(merchant.settings or {}),
        "carrier": {"provider": "easypost", "api_key": "EZ_test_key", "webhook_secret": SECRET},
    }


def scan(status: str, at: datetime, ident: str, description: str = "") -> TrackingEvent:
    return TrackingEvent(at=at, status=status, description=description or status, external_id=ident)


@pytest.fixture
def parcel(session: Session, fake: FakeCarrier, tmp_path: Path) -> tuple[Merchant, ReturnRequest, Shipment]:
    merchant = factories.merchant(session)
    _use_fake(merchant)
    request = create_return(session, merchant.id, {"RING-GOLD-52": 1})
    shipment = shipment_service.create_shipment(
        session, merchant.id, request, method="prepaid_label", actor=AGENT, storage_dir=tmp_path
    )
    session.flush()
    return merchant, request, shipment


def _actions(session: Session, return_id: int) -> list[str]:
    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject_type == "return_request", AuditEvent.subject_id == return_id)
            .order_by(AuditEvent.id)
        )
    )


def _topics(session: Session) -> list[str]:
    return list(session.scalars(select(OutboxMessage.topic).order_by(OutboxMessage.id)))


# ---- The shop's carrier makes the label ------------------------------------------------------------


def test_the_shops_carrier_buys_the_label_with_the_policys_validity(
    session: Session, parcel: tuple[Merchant, ReturnRequest, Shipment], fake: FakeCarrier, tmp_path: Path
) -> None:
    merchant, request, shipment = parcel
    assert (shipment.carrier, shipment.tracking_number) == ("easypost", f"FK{merchant.id}{request.number}1")
    assert shipment.carrier_reference == f"shp_retour:{merchant.id}:{request.number}:1"
    assert (tmp_path / shipment.label_path).read_bytes() == b"%PDF-1.4 fake label"  # type: ignore[operator]
    validity = clock.as_utc(shipment.label_expires_at) - clock.as_utc(shipment.created_at)  # type: ignore[arg-type]
    assert timedelta(days=30) <= validity < timedelta(days=30, minutes=1)  # from when the label was made

    document = policy_service.get_active(session, merchant.id).document.model_dump(mode="json")
    document["defaults"]["label_validity_days"] = 7
    policy_service.publish(session, merchant_id=merchant.id, raw=document, actor=AGENT)
    later = create_return(session, merchant.id, {"RING-GOLD-52": 1})
    second = shipment_service.create_shipment(
        session, merchant.id, later, method="drop_off", actor=AGENT, storage_dir=tmp_path
    )
    validity = clock.as_utc(second.label_expires_at) - clock.as_utc(second.created_at)  # type: ignore[arg-type]
    assert timedelta(days=7) <= validity < timedelta(days=7, minutes=1)


@pytest.mark.parametrize(
    ("failure", "error", "code"),
    [
        (CarrierRetryableError("timeout after 10 s"), ServiceUnavailable, "carrier_unavailable"),
        (CarrierFinalError("address_to: postal code invalid"), Refused, "carrier_refused"),
    ],
)
def test_a_carrier_failure_records_nothing(
    session: Session, fake: FakeCarrier, tmp_path: Path, failure: Exception, error: type[Exception], code: str
) -> None:
    merchant = factories.merchant(session)
    _use_fake(merchant)
    request = create_return(session, merchant.id, {"RING-GOLD-52": 1})
    session.flush()
    before = (_actions(session, request.id), _topics(session))
    fake.fail_with = failure
    with pytest.raises(error) as raised:
        shipment_service.create_shipment(
            session, merchant.id, request, method="prepaid_label", actor=AGENT, storage_dir=tmp_path
        )
    assert raised.value.code == code  # type: ignore[attr-defined]
    assert str(failure) in raised.value.detail  # type: ignore[attr-defined]
    assert session.scalar(select(func.count()).select_from(Shipment)) == 0
    assert (_actions(session, request.id), _topics(session)) == before
    assert not (tmp_path / str(merchant.id)).exists()


def test_returns_in_store_never_call_the_carrier(session: Session, fake: FakeCarrier, tmp_path: Path) -> None:
    merchant = factories.merchant(session)
    _use_fake(merchant)
    request = create_return(session, merchant.id, {"RING-GOLD-52": 1})
    shipment = shipment_service.create_shipment(
        session, merchant.id, request, method="customer_ships", actor=AGENT, storage_dir=tmp_path
    )
    assert (shipment.carrier, shipment.tracking_number, fake.labels) == ("builtin", None, 0)


# ---- Scans -----------------------------------------------------------------------------------------


def test_scans_move_the_parcel_forward_once(session: Session, parcel: tuple[Merchant, ReturnRequest, Shipment]) -> None:
    merchant, request, shipment = parcel
    t0 = datetime(2030, 1, 8, 10, 0, tzinfo=UTC)
    first = tracking.record_scans(
        session,
        merchant.id,
        shipment.id,
        [scan("pre_transit", t0, "e1"), scan("in_transit", t0 + timedelta(hours=5), "e2")],
        source="easypost",
    )
    assert (first.stored, first.duplicates, first.status_before, first.status_after) == (
        2,
        0,
        "label_created",
        "in_transit",
    )
    # The same scans again (a webhook, then a poll) and one more: only the new one counts.
    again = tracking.record_scans(
        session,
        merchant.id,
        shipment.id,
        [scan("in_transit", t0 + timedelta(hours=5), "e2"), scan("delivered", t0 + timedelta(days=2), "e3")],
        source="easypost",
    )
    assert (again.stored, again.duplicates, again.status_after) == (1, 1, "delivered")
    # A late in_transit scan read after delivery does not move it back.
    late = tracking.record_scans(
        session, merchant.id, shipment.id, [scan("in_transit", t0 + timedelta(days=1), "e4")], source="easypost"
    )
    assert late.status_after == "delivered"
    session.refresh(shipment)
    assert shipment.status == "delivered"
    assert clock.as_utc(shipment.last_event_at) == t0 + timedelta(days=2)  # type: ignore[arg-type]
    stored = tracking.events_of(session, merchant.id, shipment.id)
    assert [(e.external_id, e.status) for e in stored] == [
        ("e1", "pre_transit"),
        ("e2", "in_transit"),
        ("e4", "in_transit"),
        ("e3", "delivered"),
    ]
    actions = _actions(session, request.id)
    assert actions.count("shipment.in_transit") == 1 and actions.count("shipment.delivered") == 1
    assert _topics(session)[-2:] == ["shipment.in_transit", "shipment.delivered"]


def test_an_exception_scan_is_told_and_a_scan_of_a_cancelled_label_is_flagged(
    session: Session, parcel: tuple[Merchant, ReturnRequest, Shipment]
) -> None:
    merchant, request, shipment = parcel
    t0 = datetime(2030, 1, 8, 10, 0, tzinfo=UTC)
    outcome = tracking.record_scans(
        session, merchant.id, shipment.id, [scan("exception", t0, "x1", "address not found")], source="easypost"
    )
    assert outcome.status_after == "label_created"
    shipment_service.cancel_shipment(session, merchant.id, shipment, actor=AGENT)
    outcome = tracking.record_scans(
        session, merchant.id, shipment.id, [scan("in_transit", t0 + timedelta(hours=1), "x2")], source="easypost"
    )
    assert outcome.status_after == "cancelled"
    audit = {
        event.action: event.after
        for event in session.scalars(select(AuditEvent).where(AuditEvent.subject_id == request.id))
    }
    assert audit["shipment.exception"]["description"] == "address not found"  # type: ignore[index]
    assert audit["shipment.unexpected_scan"]["scan"] == "in_transit"  # type: ignore[index]
    assert audit["shipment.unexpected_scan"]["status"] == "cancelled"  # type: ignore[index]


def test_an_unknown_scan_status_is_refused_and_stores_nothing(
    session: Session, parcel: tuple[Merchant, ReturnRequest, Shipment]
) -> None:
    merchant, _, shipment = parcel
    with pytest.raises(InvalidInput) as raised:
        tracking.record_scans(
            session,
            merchant.id,
            shipment.id,
            [scan("in_transit", NOW, "ok"), scan("teleported", NOW, "bad")],
            source="api",
        )
    assert (raised.value.field, raised.value.code) == ("status", "invalid_tracking_status")
    session.flush()
    assert session.scalar(select(func.count()).select_from(ShipmentEvent)) == 0


# ---- Webhooks --------------------------------------------------------------------------------------


def _signed(body: dict[str, Any], secret: str = SECRET) -> tuple[dict[str, str], bytes]:
    raw = json.dumps(body).encode()
    return {"X-Fake-Signature": hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()}, raw


def _commit_parcel(factory: sessionmaker[Session], tmp_path: Path) -> tuple[int, str, int, str]:
    with unit_of_work(factory) as session:
        merchant = factories.merchant(session)
        _use_fake(merchant)
        request = create_return(session, merchant.id, {"RING-GOLD-52": 1})
        shipment = shipment_service.create_shipment(
            session, merchant.id, request, method="prepaid_label", actor=AGENT, storage_dir=tmp_path
        )
        return merchant.id, merchant.slug, shipment.id, shipment.tracking_number or ""


def test_a_webhook_is_stored_once_then_applied_by_the_worker(
    factory: sessionmaker[Session], fake: FakeCarrier, tmp_path: Path
) -> None:
    merchant_id, slug, shipment_id, number = _commit_parcel(factory, tmp_path)
    headers, body = _signed(
        {
            "id": "evt_1",
            "tracking_code": number,
            "scans": [
                {"id": "s1", "status": "in_transit", "at": "2030-01-08T10:00:00+00:00"},
                {"id": "s2", "status": "delivered", "at": "2030-01-09T15:30:00+01:00"},
            ],
        }
    )
    for expected_new in (True, False):  # the carrier retries the delivery
        with unit_of_work(factory) as session:
            row, new = tracking.receive_webhook(
                session, shop_slug=slug, provider="easypost", headers=headers, body=body
            )
            assert (new, row.status, row.external_id) == (expected_new, "pending", "evt_1")
    with unit_of_work(factory) as session:
        assert session.scalar(select(func.count()).select_from(InboundWebhook)) == 1
        assert session.scalar(select(Shipment.status).where(Shipment.id == shipment_id)) == "label_created"

    assert outbox_service.drain(factory) >= 1
    with unit_of_work(factory) as session:
        row = session.scalars(select(InboundWebhook)).one()
        assert (row.status, row.note) == ("processed", "2 scan(s) for 1 parcel(s)")
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None and shipment.status == "delivered"
        assert [e.external_id for e in tracking.events_of(session, merchant_id, shipment_id)] == ["s1", "s2"]
        # Processing again (a redelivered outbox message) changes nothing.
        tracking.process_webhook(session, merchant_id, row.id)
        assert len(tracking.events_of(session, merchant_id, shipment_id)) == 2


def test_a_webhook_for_parcels_retour_does_not_know_is_ignored(
    factory: sessionmaker[Session], fake: FakeCarrier, tmp_path: Path
) -> None:
    _, slug, _, _ = _commit_parcel(factory, tmp_path)
    headers, body = _signed(
        {"id": "evt_2", "tracking_code": "1Z999", "scans": [{"id": "s", "status": "in_transit", "at": NOW.isoformat()}]}
    )
    with unit_of_work(factory) as session:
        tracking.receive_webhook(session, shop_slug=slug, provider="easypost", headers=headers, body=body)
    outbox_service.drain(factory)
    with unit_of_work(factory) as session:
        row = session.scalars(select(InboundWebhook)).one()
        assert (row.status, row.note) == ("ignored", "1 scan(s) for 0 parcel(s); unknown: 1Z999")
        assert session.scalar(select(func.count()).select_from(ShipmentEvent)) == 0


def test_a_badly_signed_or_misdirected_webhook_stores_nothing(
    factory: sessionmaker[Session], fake: FakeCarrier, tmp_path: Path
) -> None:
    _, slug, _, number = _commit_parcel(factory, tmp_path)
    body = {"id": "evt_3", "tracking_code": number, "scans": []}
    headers, raw = _signed(body, secret="not-the-secret")
    with unit_of_work(factory) as session, pytest.raises(Unauthorized) as raised:
        tracking.receive_webhook(session, shop_slug=slug, provider="easypost", headers=headers, body=raw)
    assert raised.value.code == "webhook_signature_invalid"
    headers, raw = _signed(body)
    tampered = raw.replace(b"evt_3", b"evt_4")
    with unit_of_work(factory) as session, pytest.raises(Unauthorized):
        tracking.receive_webhook(session, shop_slug=slug, provider="easypost", headers=headers, body=tampered)
    for shop, provider in ((slug, "shippo"), ("no-such-shop", "easypost")):
        with unit_of_work(factory) as session, pytest.raises(Exception) as missing:
            tracking.receive_webhook(session, shop_slug=shop, provider=provider, headers=headers, body=raw)
        assert getattr(missing.value, "status", None) == 404
    with unit_of_work(factory) as session:
        assert session.scalar(select(func.count()).select_from(InboundWebhook)) == 0
        assert "carrier.webhook_received" not in _topics(session)


# ---- Polling ---------------------------------------------------------------------------------------


def test_polling_asks_real_carriers_for_moving_parcels_only(
    factory: sessionmaker[Session], fake: FakeCarrier, tmp_path: Path
) -> None:
    merchant_id, _, shipment_id, number = _commit_parcel(factory, tmp_path)
    with unit_of_work(factory) as session:  # a built-in parcel of the same shop is never polled
        request = create_return(session, merchant_id, {"RING-GOLD-52": 1})
        builtin = shipment_service.create_shipment(
            session, merchant_id, request, method="customer_ships", actor=AGENT, storage_dir=tmp_path
        )
        assert builtin.carrier == "builtin"
    fake.scans[number] = [scan("in_transit", NOW, "p1"), scan("delivered", NOW + timedelta(days=1), "p2")]
    assert tracking.poll_all(factory) == 1
    assert fake.tracked == [number]
    with unit_of_work(factory) as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None and shipment.status == "delivered"
        assert shipment.last_polled_at is not None
    # Delivered parcels are not asked again; nor would one polled less than four hours ago.
    assert tracking.poll_all(factory) == 0
    assert fake.tracked == [number]


def test_a_failing_carrier_is_asked_again_later_and_changes_nothing(
    factory: sessionmaker[Session], fake: FakeCarrier, tmp_path: Path
) -> None:
    _, _, shipment_id, number = _commit_parcel(factory, tmp_path)
    fake.fail_with = CarrierRetryableError("503 from carrier")
    assert tracking.poll_all(factory) == 1
    assert tracking.poll_all(factory) == 0  # stamped: not before the next interval
    later = clock.now() + timedelta(hours=5)
    fake.fail_with = None
    fake.scans[number] = [scan("in_transit", NOW, "p1")]
    assert tracking.poll_all(factory, now=later) == 1
    with unit_of_work(factory) as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None and shipment.status == "in_transit"


# ---- Expiry ----------------------------------------------------------------------------------------


def test_an_unused_label_expires_with_its_return(
    factory: sessionmaker[Session], fake: FakeCarrier, tmp_path: Path
) -> None:
    merchant_id, _, shipment_id, _ = _commit_parcel(factory, tmp_path)
    with unit_of_work(factory) as session:
        expires = clock.as_utc(session.get(Shipment, shipment_id).label_expires_at)  # type: ignore[union-attr,arg-type]
    assert tracking.expire_all(factory, now=expires - timedelta(minutes=1)) == 0
    assert tracking.expire_all(factory, now=expires + timedelta(minutes=1)) == 1
    assert tracking.expire_all(factory, now=expires + timedelta(minutes=2)) == 0
    with unit_of_work(factory) as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None and shipment.status == "label_expired"
        request = return_service.get_return(session, merchant_id, shipment.return_request_id)
        assert (request.status, request.decision_note) == ("expired", "label not used before it expired")
        assert _actions(session, request.id)[-2:] == ["shipment.label_expired", "return.expired"]
        assert _topics(session)[-2:] == ["shipment.label_expired", "return.expired"]


def test_a_scanned_label_or_a_return_with_another_parcel_does_not_expire(
    factory: sessionmaker[Session], fake: FakeCarrier, tmp_path: Path
) -> None:
    merchant_id, _, shipment_id, _ = _commit_parcel(factory, tmp_path)
    with unit_of_work(factory) as session:
        first = session.get(Shipment, shipment_id)
        assert first is not None
        request = return_service.get_return(session, merchant_id, first.return_request_id)
        second = shipment_service.create_shipment(
            session, merchant_id, request, method="drop_off", actor=AGENT, storage_dir=tmp_path
        )
        tracking.record_scans(session, merchant_id, second.id, [scan("in_transit", NOW, "z")], source="easypost")
        expires = clock.as_utc(first.label_expires_at)  # type: ignore[arg-type]
        return_id = request.id
    assert tracking.expire_all(factory, now=expires + timedelta(days=1)) == 1  # the unscanned first one
    with unit_of_work(factory) as session:
        statuses = [s.status for s in shipment_service.list_shipments(session, merchant_id, return_id)]
        assert statuses == ["label_expired", "in_transit"]
        assert return_service.get_return(session, merchant_id, return_id).status == "approved"


# ---- Pickups ---------------------------------------------------------------------------------------


@pytest.fixture
def pickup(session: Session, fake: FakeCarrier, tmp_path: Path) -> tuple[Merchant, Shipment]:
    merchant = factories.merchant(session)
    _use_fake(merchant)
    request = create_return(session, merchant.id, {"RING-GOLD-52": 1})
    with clock.frozen(NOW):
        shipment = shipment_service.create_shipment(
            session,
            merchant.id,
            request,
            method="home_pickup",
            pickup_date=date(2030, 1, 8),
            pickup_slot="09-12",
            actor=AGENT,
            storage_dir=tmp_path,
        )
    session.flush()
    return merchant, shipment


def test_a_pickup_moves_to_another_slot(session: Session, pickup: tuple[Merchant, Shipment]) -> None:
    merchant, shipment = pickup
    with clock.frozen(NOW):
        moved = tracking.reschedule_pickup(
            session, merchant.id, shipment.id, pickup_date=date(2030, 1, 10), pickup_slot="13-17", actor=AGENT
        )
        count = session.scalar(select(func.count()).select_from(AuditEvent))
        tracking.reschedule_pickup(  # the same slot again: nothing new
            session, merchant.id, shipment.id, pickup_date=date(2030, 1, 10), pickup_slot="13-17", actor=AGENT
        )
    assert (moved.pickup_date, moved.pickup_slot) == (date(2030, 1, 10), "13-17")
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == count
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "shipment.pickup_rescheduled")).one()
    assert event.before == {
        "shipment_id": shipment.id,
        "tracking_number": shipment.tracking_number,
        "pickup_date": "2030-01-08",
        "pickup_slot": "09-12",
    }
    assert (event.after or {})["pickup_date"] == "2030-01-10"
    assert _topics(session)[-1] == "shipment.pickup_rescheduled"


@pytest.mark.parametrize(
    ("day", "slot", "field", "code"),
    [
        (date(2030, 1, 13), "09-12", "pickup_date", "pickup_date_sunday"),
        (date(2030, 1, 7), "09-12", "pickup_date", "pickup_date_not_future"),
        (date(2030, 3, 1), "09-12", "pickup_date", "pickup_date_too_far"),
        (date(2030, 1, 9), "18-20", "pickup_slot", "pickup_slot_invalid"),
    ],
)
def test_a_pickup_cannot_move_to_a_slot_not_offered(
    session: Session, pickup: tuple[Merchant, Shipment], day: date, slot: str, field: str, code: str
) -> None:
    merchant, shipment = pickup
    with clock.frozen(NOW), pytest.raises(InvalidInput) as raised:
        tracking.reschedule_pickup(session, merchant.id, shipment.id, pickup_date=day, pickup_slot=slot, actor=AGENT)
    assert (raised.value.field, raised.value.code) == (field, code)
    session.refresh(shipment)
    assert (shipment.pickup_date, shipment.pickup_slot) == (date(2030, 1, 8), "09-12")


def test_a_collected_pickup_or_another_method_cannot_be_rescheduled(
    session: Session, pickup: tuple[Merchant, Shipment], tmp_path: Path
) -> None:
    merchant, shipment = pickup
    tracking.record_scans(session, merchant.id, shipment.id, [scan("in_transit", NOW, "c")], source="easypost")
    with clock.frozen(NOW), pytest.raises(Conflict) as raised:
        tracking.reschedule_pickup(
            session, merchant.id, shipment.id, pickup_date=date(2030, 1, 9), pickup_slot="09-12", actor=AGENT
        )
    assert raised.value.code == "pickup_done"
    request = create_return(session, merchant.id, {"RING-GOLD-52": 1})
    label = shipment_service.create_shipment(
        session, merchant.id, request, method="prepaid_label", actor=AGENT, storage_dir=tmp_path
    )
    with clock.frozen(NOW), pytest.raises(Conflict) as raised:
        tracking.reschedule_pickup(
            session, merchant.id, label.id, pickup_date=date(2030, 1, 9), pickup_slot="09-12", actor=AGENT
        )
    assert raised.value.code == "not_a_pickup"


def test_carrier_settings_keep_secrets_and_show_them_masked(session: Session) -> None:
    merchant = factories.merchant(session)
    with pytest.raises(InvalidInput) as raised:
        shipment_service.set_carrier_settings(
            session, merchant.id, provider="shippo", api_key=None, webhook_secret=None, actor=AGENT
        )
    assert (raised.value.field, raised.value.code) == ("api_key", "api_key_required")
    assert "carrier" not in (merchant.settings or {})
    shipment_service.set_carrier_settings(
        session, merchant.id, provider="shippo", api_key="shippo_live_abcd1234", webhook_secret="tok-5678", actor=AGENT
    )
    kept = shipment_service.set_carrier_settings(
        session, merchant.id, provider="shippo", api_key=None, webhook_secret=None, preferred_service="x", actor=AGENT
    )
    assert (kept.api_key, kept.webhook_secret, kept.preferred_service) == ("shippo_live_abcd1234", "tok-5678", "x")
    assert kept.public()["api_key"] == "…1234"
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "merchant.carrier_changed")).all()
    assert "shippo_live_abcd1234" not in json.dumps([event.after for event in audit])


def test_a_webhook_and_a_poll_racing_on_one_parcel_store_each_scan_once(
    factory: sessionmaker[Session], fake: FakeCarrier, tmp_path: Path
) -> None:
    import threading

    merchant_id, _, shipment_id, _ = _commit_parcel(factory, tmp_path)
    scans = [scan("in_transit", NOW, "r1"), scan("delivered", NOW + timedelta(days=1), "r2")]
    start = threading.Barrier(2)
    outcomes: list[tracking.ScanOutcome] = []
    errors: list[BaseException] = []

    def apply() -> None:
        try:
            start.wait()
            with unit_of_work(factory) as session:
                outcomes.append(tracking.record_scans(session, merchant_id, shipment_id, scans, source="easypost"))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=apply) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted((o.stored, o.duplicates) for o in outcomes) == [(0, 2), (2, 0)]
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(ShipmentEvent)) == 2
        moves = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.in_(["shipment.in_transit", "shipment.delivered"]))
        ).all()
        assert sorted(moves) == ["shipment.delivered", "shipment.in_transit"]


def test_a_pickup_shown_on_one_return_cannot_be_moved_through_another(
    session: Session, pickup: tuple[Merchant, Shipment]
) -> None:
    merchant, shipment = pickup
    other = create_return(session, merchant.id, {"RING-GOLD-52": 1})
    with clock.frozen(NOW), pytest.raises(NotFound):
        tracking.reschedule_pickup(
            session,
            merchant.id,
            shipment.id,
            pickup_date=date(2030, 1, 9),
            pickup_slot="13-17",
            actor=AGENT,
            return_id=other.id,
        )
    session.refresh(shipment)
    assert (shipment.pickup_date, shipment.pickup_slot) == (date(2030, 1, 8), "09-12")


# ---- Labels bought by the worker -------------------------------------------------------------------


def _pending_parcel(factory: sessionmaker[Session], tmp_path: Path) -> tuple[int, int, int]:
    with unit_of_work(factory) as session:
        merchant = factories.merchant(session)
        _use_fake(merchant)
        request = create_return(session, merchant.id, {"RING-GOLD-52": 1})
        shipment = shipment_service.create_shipment(
            session,
            merchant.id,
            request,
            method="prepaid_label",
            actor=AGENT,
            storage_dir=tmp_path,
            defer_carrier=True,
        )
        assert (shipment.status, shipment.carrier, shipment.tracking_number, shipment.label_path) == (
            "label_pending",
            "easypost",
            None,
            None,
        )
        return merchant.id, request.id, shipment.id


def test_a_deferred_label_is_bought_by_the_worker(
    factory: sessionmaker[Session], fake: FakeCarrier, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETOUR_STORAGE_DIR", str(tmp_path))
    from retour.settings import get_settings

    get_settings.cache_clear()
    merchant_id, return_id, shipment_id = _pending_parcel(factory, tmp_path)
    assert fake.labels == 0  # the customer did not wait for the carrier
    with unit_of_work(factory) as session:
        assert _actions(session, return_id)[-1] == "shipment.label_requested"
        shipment = session.get(Shipment, shipment_id)
        with pytest.raises(Exception) as not_ready:
            shipment_service.get_label_pdf(session, merchant_id, shipment, storage_dir=tmp_path)  # type: ignore[arg-type]
        assert getattr(not_ready.value, "code", None) == "label_not_ready"
    outbox_service.drain(factory)
    get_settings.cache_clear()
    with unit_of_work(factory) as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        assert (shipment.status, shipment.tracking_number) == ("label_created", f"FK{merchant_id}R-0000011")
        assert (tmp_path / (shipment.label_path or "")).read_bytes() == b"%PDF-1.4 fake label"
        assert _actions(session, return_id)[-2:] == ["shipment.label_requested", "shipment.label_created"]
        assert shipment.label_expires_at is not None
    assert fake.labels == 1
    outbox_service.drain(factory)  # nothing left to buy
    assert fake.labels == 1


def test_a_refused_deferred_label_is_kept_on_the_parcel_and_can_be_tried_again(
    factory: sessionmaker[Session], fake: FakeCarrier, tmp_path: Path
) -> None:
    merchant_id, return_id, shipment_id = _pending_parcel(factory, tmp_path)
    fake.fail_with = CarrierFinalError("to_address.street1: required")
    outbox_service.drain(factory)
    with unit_of_work(factory) as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        assert shipment.status == "label_failed"
        assert shipment.failure_reason == "the carrier refused the label: to_address.street1: required"
        assert _actions(session, return_id)[-1] == "shipment.label_failed"
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "shipment.label_requested")).one()
        assert message.status == "done"  # kept on the parcel, not dead-lettered
    fake.fail_with = None
    with unit_of_work(factory) as session:
        again = shipment_service.buy_pending_label(session, merchant_id, shipment_id, actor=AGENT, storage_dir=tmp_path)
        assert (again.status, again.failure_reason) == ("label_created", None)


def test_an_unavailable_carrier_leaves_the_label_pending_for_a_retry(
    factory: sessionmaker[Session], fake: FakeCarrier, tmp_path: Path
) -> None:
    _, _, shipment_id = _pending_parcel(factory, tmp_path)
    fake.fail_with = CarrierRetryableError("timeout after 10 s")
    outbox_service.drain(factory)
    with unit_of_work(factory) as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None and shipment.status == "label_pending"
        message = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "shipment.label_requested")).one()
        assert (message.status, message.attempts) == ("pending", 1)


def test_a_pending_label_of_a_cancelled_return_is_never_bought(
    factory: sessionmaker[Session], fake: FakeCarrier, tmp_path: Path
) -> None:
    from retour.portal import status as portal_status

    merchant_id, return_id, shipment_id = _pending_parcel(factory, tmp_path)
    with unit_of_work(factory) as session:
        portal_status.cancel_return(session, merchant_id, return_id, actor=AGENT)
    outbox_service.drain(factory)
    with unit_of_work(factory) as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None and shipment.status == "cancelled"
    assert fake.labels == 0


def test_a_label_paid_for_but_not_downloaded_is_recorded_and_fetched_later(
    session: Session, fake: FakeCarrier, tmp_path: Path
) -> None:
    merchant = factories.merchant(session)
    _use_fake(merchant)
    request = create_return(session, merchant.id, {"RING-GOLD-52": 1})
    fake.file_lost = True
    shipment = shipment_service.create_shipment(
        session, merchant.id, request, method="prepaid_label", actor=AGENT, storage_dir=tmp_path
    )
    assert (shipment.status, shipment.tracking_number, shipment.tracking_carrier) == (
        "label_created",
        f"FK{merchant.id}{request.number}1",
        "ups",
    )
    assert (shipment.carrier_reference, shipment.label_url) == (
        f"shp_retour:{merchant.id}:{request.number}:1",
        "https://files.example/label.pdf",
    )
    assert fake.labels == 1 and not (tmp_path / (shipment.label_path or "x")).exists()
    # Asked for, the file comes from the carrier (never redrawn, never bought again), then is kept.
    pdf = shipment_service.get_label_pdf(session, merchant.id, shipment, storage_dir=tmp_path)
    assert pdf == b"%PDF-1.4 downloaded again"
    assert shipment_service.get_label_pdf(session, merchant.id, shipment, storage_dir=tmp_path) == pdf
    assert fake.downloads == ["https://files.example/label.pdf"] and fake.labels == 1


def test_a_carrier_label_whose_file_is_lost_is_never_redrawn(
    session: Session, parcel: tuple[Merchant, ReturnRequest, Shipment], tmp_path: Path
) -> None:
    merchant, _, shipment = parcel
    (tmp_path / (shipment.label_path or "")).unlink()
    shipment.label_url = None
    with pytest.raises(NotFound) as missing:
        shipment_service.get_label_pdf(session, merchant.id, shipment, storage_dir=tmp_path)
    assert missing.value.code == "label_not_ready"


def test_one_failing_parcel_does_not_stop_the_polling_round(
    factory: sessionmaker[Session], fake: FakeCarrier, tmp_path: Path
) -> None:
    _, _, broken_id, broken = _commit_parcel(factory, tmp_path)
    _, _, healthy_id, healthy = _commit_parcel(factory, tmp_path)
    fake.broken.add(broken)
    fake.scans[healthy] = [scan("in_transit", NOW, "h1")]
    assert tracking.poll_all(factory) == 2
    with unit_of_work(factory) as session:
        assert session.get(Shipment, healthy_id).status == "in_transit"  # type: ignore[union-attr]
        stamped = session.get(Shipment, broken_id)
        assert stamped is not None and stamped.last_polled_at is not None  # not first in line forever


def test_a_label_the_carrier_never_sold_fails_after_two_hours(
    factory: sessionmaker[Session], fake: FakeCarrier, tmp_path: Path
) -> None:
    _, return_id, shipment_id = _pending_parcel(factory, tmp_path)
    with unit_of_work(factory) as session:
        asked = clock.as_utc(session.get(Shipment, shipment_id).created_at)  # type: ignore[union-attr]
    tracking.expire_all(factory, now=asked + timedelta(hours=1))
    with unit_of_work(factory) as session:
        assert session.get(Shipment, shipment_id).status == "label_pending"  # type: ignore[union-attr]
    tracking.expire_all(factory, now=asked + timedelta(hours=2, minutes=1))
    with unit_of_work(factory) as session:
        shipment = session.get(Shipment, shipment_id)
        assert shipment is not None
        assert (shipment.status, shipment.failure_reason) == (
            "label_failed",
            "the carrier did not answer for two hours",
        )
        assert _actions(session, return_id)[-1] == "shipment.label_failed"


def test_the_same_webhook_delivered_twice_at_once_is_stored_once(
    factory: sessionmaker[Session], fake: FakeCarrier, tmp_path: Path
) -> None:
    import threading

    _, slug, _, number = _commit_parcel(factory, tmp_path)
    headers, body = _signed({"id": "evt_twice", "tracking_code": number, "scans": []})
    start = threading.Barrier(2)
    results: list[bool] = []
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            start.wait()
            with unit_of_work(factory) as session:
                _, new = tracking.receive_webhook(
                    session, shop_slug=slug, provider="easypost", headers=headers, body=body
                )
                results.append(new)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(results) == [False, True]
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(InboundWebhook)) == 1
