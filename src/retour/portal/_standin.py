"""TEMPORARY stand-in for retour.shipment.service and retour.photo.service until they land."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from retour.kit.errors import InvalidInput
from retour.models import ReturnPhoto, Shipment


@dataclass(frozen=True)
class Slot:
    date: date
    slot: str


@dataclass(frozen=True)
class Store:
    code: str
    name: str
    address: str


def pickup_slots(today: date) -> list[Slot]:
    return [Slot(today + timedelta(days=d), s) for d in (1, 2, 3) for s in ("09-12", "13-17")]


def stores_for(merchant: Any) -> list[Any]:
    from retour.shipment.rules import stores_from_settings

    return stores_from_settings(merchant.settings or {})


def create_shipment(session: Session, merchant_id: int, request: Any, **kw: Any) -> Shipment:
    kw.pop("actor", None)
    s = Shipment(merchant_id=merchant_id, return_request_id=request.id, status="label_created", carrier="builtin", **kw)
    session.add(s)
    session.flush()
    return s


def list_shipments(session: Session, merchant_id: int, return_id: int) -> list[Shipment]:
    return list(
        session.scalars(
            select(Shipment)
            .where(Shipment.merchant_id == merchant_id, Shipment.return_request_id == return_id)
            .order_by(Shipment.id)
        )
    )


def timeline(session: Session, merchant_id: int, shipment: Shipment) -> list[Any]:
    return []


def cancel_shipment(session: Session, merchant_id: int, shipment: Shipment, *, actor: Any) -> None:
    shipment.status = "cancelled"


def store_photo(
    session: Session,
    merchant_id: int,
    *,
    data: bytes,
    filename: str,
    content_type: str,
    upload_token: str,
    storage_dir: Path,
) -> ReturnPhoto:
    if not data.startswith(b"\x89PNG") and not data.startswith(b"\xff\xd8"):
        raise InvalidInput("not an image", field="photos", code="unsupported_type")
    p = ReturnPhoto(
        merchant_id=merchant_id,
        upload_token=upload_token,
        path="x",
        width=1,
        height=1,
        size_bytes=len(data),
        original_content_type=content_type,
        sha256="0",
    )
    session.add(p)
    session.flush()
    return p


def attach_photos(
    session: Session,
    merchant_id: int,
    *,
    upload_token: str,
    photo_ids: list[int],
    return_request_id: int,
    return_line_id: int,
) -> None:
    for p in session.scalars(
        select(ReturnPhoto).where(
            ReturnPhoto.merchant_id == merchant_id,
            ReturnPhoto.upload_token == upload_token,
            ReturnPhoto.id.in_(photo_ids),
        )
    ):
        p.return_request_id = return_request_id
        p.return_line_id = return_line_id


def photos_of_return(session: Session, merchant_id: int, return_id: int) -> list[ReturnPhoto]:
    return list(
        session.scalars(
            select(ReturnPhoto).where(
                ReturnPhoto.merchant_id == merchant_id, ReturnPhoto.return_request_id == return_id
            )
        )
    )


def get_label_pdf(session: Session, merchant_id: int, shipment: Shipment) -> bytes:
    return b"%PDF-1.4 standin"


def render_packing_slip_pdf(session: Session, merchant_id: int, request: Any) -> bytes:
    return b"%PDF-1.4 standin"


def drop_off_qr_png(shipment: Shipment) -> bytes:
    return b"\x89PNG standin"


def return_address_for(merchant: Any, country: str) -> Any:
    from retour.shipment.rules import return_address_from_settings

    return return_address_from_settings(merchant.settings or {}, country, shop_name=merchant.name)
