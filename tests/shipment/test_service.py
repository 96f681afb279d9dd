"""The shipment service on both databases: the label stored and recorded, deterministic valid
tracking numbers, home pickup checks naming the field, return addresses by country."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session

from retour.kit import clock
from retour.kit.errors import Conflict, InvalidInput, NotFound
from retour.models import AuditEvent, Merchant, OutboxMessage, ReturnRequest
from retour.receiving.rules import parse_scan
from retour.return_request import service as return_service
from retour.shipment import rules
from retour.shipment import service as shipment_service
from tests import factories
from tests.shipment import code128
from tests.warehouse.builders import AGENT, create_return

SETTINGS = {
    "return_addresses": {
        "default": {
            "name": "Maison Test - retours",
            "lines": ["12 rue des Lilas"],
            "postal_code": "69002",
            "city": "Lyon",
            "country": "FR",
        },
        "BE": {
            "name": "Maison Test Belgique",
            "line1": "3 avenue Louise",
            "postal_code": "1050",
            "city": "Bruxelles",
            "country": "be",
        },
    },
    "stores": [{"code": "LYON-1", "name": "Maison Test Lyon", "address": "5 place Bellecour", "city": "Lyon"}],
}
MONDAY = datetime(2030, 1, 7, 9, 0)  # 2030-01-07 is a Monday


@pytest.fixture
def shop(session: Session) -> tuple[Merchant, ReturnRequest]:
    merchant = factories.merchant(session)
    merchant.settings = SETTINGS
    request = create_return(session, merchant.id, {"RING-GOLD-52": 1})
    session.flush()
    return merchant, request


def test_create_shipment_stores_the_label_and_records_it(
    session: Session, shop: tuple[Merchant, ReturnRequest], tmp_path: Path
) -> None:
    merchant, request = shop
    shipment = shipment_service.create_shipment(
        session, merchant.id, request, method="prepaid_label", actor=AGENT, storage_dir=tmp_path
    )
    tracking = rules.tracking_number(merchant.id, request.number)
    assert (shipment.status, shipment.carrier, shipment.tracking_number) == ("label_created", "builtin", tracking)
    assert rules.is_valid_tracking_number(tracking)
    assert shipment.qr_payload == f"RETOUR;RMA={request.number};TRK={tracking}"
    assert parse_scan(shipment.qr_payload).tracking_number == tracking
    assert shipment.label_path == f"{merchant.id}/labels/{request.number}.pdf"
    assert shipment.label_expires_at is not None

    stored = tmp_path / str(merchant.id) / "labels" / f"{request.number}.pdf"
    reader = PdfReader(io.BytesIO(stored.read_bytes()))
    text = reader.pages[0].extract_text()
    assert request.number in text and "12 rue des Lilas" in text and tracking in text
    assert code128.decode(code128.modules(code128.bars_in_pdf(reader, 58.0))) == request.number
    assert [p.name for p in stored.parent.iterdir()] == [stored.name]  # no temporary file left

    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "shipment.label_created")).all()
    assert [(e.subject_type, e.subject_id, e.after["shipment_id"]) for e in events] == [
        ("return_request", request.id, shipment.id)
    ]
    assert [e.action for e in shipment_service.timeline(session, merchant.id, shipment)] == ["shipment.label_created"]
    messages = session.scalars(select(OutboxMessage).where(OutboxMessage.topic == "shipment.label_created")).all()
    assert [(m.payload["return_id"], m.payload["tracking_number"]) for m in messages] == [(request.id, tracking)]
    assert shipment_service.list_shipments(session, merchant.id, request.id) == [shipment]


def test_tracking_numbers_are_deterministic_and_one_per_parcel(
    session: Session, shop: tuple[Merchant, ReturnRequest], tmp_path: Path
) -> None:
    merchant, request = shop
    first = shipment_service.create_shipment(
        session, merchant.id, request, method="drop_off", actor=AGENT, storage_dir=tmp_path
    )
    shipment_service.cancel_shipment(session, merchant.id, first, actor=AGENT)
    second = shipment_service.create_shipment(
        session, merchant.id, request, method="drop_off", actor=AGENT, storage_dir=tmp_path
    )
    assert first.tracking_number == rules.tracking_number(merchant.id, request.number, 1)
    assert second.tracking_number == rules.tracking_number(merchant.id, request.number, 2)
    assert first.tracking_number != second.tracking_number
    assert all(rules.is_valid_tracking_number(s.tracking_number or "") for s in (first, second))
    assert second.label_path == f"{merchant.id}/labels/{request.number}-2.pdf"
    assert first.status == "cancelled"
    assert [e.action for e in shipment_service.timeline(session, merchant.id, first)] == [
        "shipment.label_created",
        "shipment.cancelled",
    ]
    # A typo in a tracking number is caught by the check digit.
    typo = second.tracking_number[:-2] + str((int(second.tracking_number[-2]) + 1) % 10) + second.tracking_number[-1]
    assert not rules.is_valid_tracking_number(typo)


def test_a_missing_label_file_is_drawn_again_identically(
    session: Session, shop: tuple[Merchant, ReturnRequest], tmp_path: Path
) -> None:
    merchant, request = shop
    shipment = shipment_service.create_shipment(
        session, merchant.id, request, method="prepaid_label", actor=AGENT, storage_dir=tmp_path
    )
    path = tmp_path / (shipment.label_path or "")
    original = path.read_bytes()
    path.unlink()
    assert shipment_service.get_label_pdf(session, merchant.id, shipment, storage_dir=tmp_path) == original
    assert path.read_bytes() == original


def test_in_store_and_customer_ships_have_no_tracking_number(
    session: Session, shop: tuple[Merchant, ReturnRequest], tmp_path: Path
) -> None:
    merchant, request = shop
    in_store = shipment_service.create_shipment(
        session, merchant.id, request, method="in_store", store_code="LYON-1", actor=AGENT, storage_dir=tmp_path
    )
    assert (in_store.tracking_number, in_store.store_code, in_store.qr_payload) == (
        None,
        "LYON-1",
        f"RETOUR;RMA={request.number}",
    )
    text = PdfReader(io.BytesIO((tmp_path / (in_store.label_path or "")).read_bytes())).pages[0].extract_text()
    assert "5 place Bellecour" in text
    with pytest.raises(InvalidInput) as caught:
        shipment_service.create_shipment(
            session, merchant.id, request, method="in_store", store_code="NOPE", actor=AGENT, storage_dir=tmp_path
        )
    assert caught.value.field == "store_code"


@pytest.mark.parametrize(
    ("pickup_date", "slot", "field", "code"),
    [
        (None, "09-12", "pickup_date", "pickup_date_required"),
        (date(2030, 1, 7), "09-12", "pickup_date", "pickup_date_not_future"),
        (date(2030, 1, 6), "09-12", "pickup_date", "pickup_date_not_future"),
        (date(2030, 1, 13), "09-12", "pickup_date", "pickup_date_sunday"),
        (date(2030, 3, 1), "09-12", "pickup_date", "pickup_date_too_far"),
        (date(2030, 1, 8), None, "pickup_slot", "pickup_slot_invalid"),
        (date(2030, 1, 8), "18-20", "pickup_slot", "pickup_slot_invalid"),
    ],
)
def test_home_pickup_errors_name_the_field(
    session: Session,
    shop: tuple[Merchant, ReturnRequest],
    tmp_path: Path,
    pickup_date: date | None,
    slot: str | None,
    field: str,
    code: str,
) -> None:
    merchant, request = shop
    with clock.frozen(MONDAY), pytest.raises(InvalidInput) as caught:
        shipment_service.create_shipment(
            session,
            merchant.id,
            request,
            method="home_pickup",
            pickup_date=pickup_date,
            pickup_slot=slot,
            actor=AGENT,
            storage_dir=tmp_path,
        )
    assert (caught.value.field, caught.value.code) == (field, code)
    assert caught.value.extra["message_fr"]
    assert shipment_service.list_shipments(session, merchant.id, request.id) == []
    assert not (tmp_path / str(merchant.id)).exists()


def test_home_pickup_on_a_working_day(session: Session, shop: tuple[Merchant, ReturnRequest], tmp_path: Path) -> None:
    merchant, request = shop
    with clock.frozen(MONDAY):
        slots = shipment_service.pickup_slots(MONDAY.date())
        assert all(s.date.weekday() != 6 and s.date > MONDAY.date() for s in slots)
        chosen = slots[-1]
        shipment = shipment_service.create_shipment(
            session,
            merchant.id,
            request,
            method="home_pickup",
            pickup_date=chosen.date,
            pickup_slot=chosen.slot,
            actor=AGENT,
            storage_dir=tmp_path,
        )
    assert (shipment.pickup_date, shipment.pickup_slot) == (chosen.date, chosen.slot)


def test_return_address_by_country_with_default_fallback(
    session: Session, shop: tuple[Merchant, ReturnRequest]
) -> None:
    merchant, _ = shop
    belgium = shipment_service.return_address_for(session, merchant, "be")
    assert belgium.printable_lines() == ["Maison Test Belgique", "3 avenue Louise", "1050 Bruxelles", "BE"]
    assert shipment_service.return_address_for(session, merchant, "DE").name == "Maison Test - retours"
    assert shipment_service.return_address_for(session, merchant, "").city == "Lyon"
    merchant.settings = {}
    assert shipment_service.return_address_for(session, merchant, "FR").printable_lines() == [merchant.name]
    assert [s.code for s in shipment_service.stores_for(session, merchant)] == []


def test_documents_of_a_shipment(session: Session, shop: tuple[Merchant, ReturnRequest], tmp_path: Path) -> None:
    merchant, request = shop
    shipment = shipment_service.create_shipment(
        session, merchant.id, request, method="drop_off", actor=AGENT, storage_dir=tmp_path
    )
    png = Image.open(io.BytesIO(shipment_service.drop_off_qr_png(shipment)))
    assert png.format == "PNG" and png.width == png.height
    slip = PdfReader(io.BytesIO(shipment_service.render_packing_slip_pdf(session, merchant.id, request)))
    text = slip.pages[0].extract_text()
    assert request.number in text and "RING-GOLD-52" in text and "12 rue des Lilas" in text


def test_a_return_that_is_not_approved_gets_no_label(
    session: Session, shop: tuple[Merchant, ReturnRequest], tmp_path: Path
) -> None:
    merchant, request = shop
    return_service.cancel_return(session, merchant.id, request.id, actor=AGENT)
    with pytest.raises(Conflict) as caught:
        shipment_service.create_shipment(
            session, merchant.id, request, method="prepaid_label", actor=AGENT, storage_dir=tmp_path
        )
    assert (caught.value.code, caught.value.extra) == ("return_not_approved", {"status": "cancelled"})
    assert shipment_service.list_shipments(session, merchant.id, request.id) == []
    assert not (tmp_path / str(merchant.id)).exists()
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "shipment.label_created")).all() == []


def test_another_shops_return_is_not_found(
    session: Session, shop: tuple[Merchant, ReturnRequest], tmp_path: Path
) -> None:
    _, request = shop
    intruder = factories.merchant(session)
    with pytest.raises(NotFound):
        shipment_service.create_shipment(
            session, intruder.id, request, method="prepaid_label", actor=AGENT, storage_dir=tmp_path
        )
    assert shipment_service.list_shipments(session, request.merchant_id, request.id) == []
    assert not tmp_path.exists() or list(tmp_path.iterdir()) == []
