"""Second-hand resale: graded units become listings priced at the original price minus the
grade's discount, with a description that says why; a feed (CSV or JSON) of the active ones for a
marketplace or the shop; listings are marked sold or withdrawn."""

from __future__ import annotations

import base64
import csv
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.orm import Session

from retour.audit import service as audit_service
from retour.kit import clock
from retour.kit.actor import Actor
from retour.kit.errors import Conflict, InvalidInput, NotFound
from retour.kit.money import Money
from retour.models import ResaleListing
from retour.resale import repository
from retour.resale import rules as resale_rules
from retour.resale.schemas import ListingOut

SUBJECT = "resale_listing"
FEED_COLUMNS = (
    "id",
    "sku",
    "title",
    "grade",
    "price",
    "original_price",
    "currency",
    "discount_percent",
    "description_en",
    "description_fr",
    "photos",
)


def create_listing(
    session: Session,
    merchant_id: int,
    *,
    inspection_unit_id: int,
    sku: str,
    title: str,
    grade: str,
    original: Money,
    inspection_notes: str,
    photos: Sequence[str],
    actor: Actor,
    discounts: Mapping[str, Decimal] | None = None,
) -> ResaleListing:
    """List one inspected unit for resale. Refused (422) for a grade with nothing to sell."""
    try:
        price = resale_rules.price_listing(original, grade, discounts)
    except resale_rules.NotResellable as refused:
        raise InvalidInput(str(refused), field="grade", code="not_resellable") from None
    descriptions = {
        language: resale_rules.describe_listing(
            grade, inspection_notes, language, discount_percent=price.discount_percent
        )[:2000]
        for language in ("en", "fr")
    }
    listing = ResaleListing(
        merchant_id=merchant_id,
        inspection_unit_id=inspection_unit_id,
        sku=sku,
        title=title[:300],
        grade=grade,
        original_price_amount=original.amount_minor,
        price_amount=price.price.amount_minor,
        currency=original.currency,
        discount_percent=f"{price.discount_percent.normalize():f}",
        description_en=descriptions["en"],
        description_fr=descriptions["fr"],
        photos=list(photos),
        status="active",
    )
    session.add(listing)
    session.flush()
    _record(session, listing, "listing.created", actor, after=listing_out(listing).model_dump(mode="json"))
    return listing


def get_listing(session: Session, merchant_id: int, listing_id: int, *, lock: bool = False) -> ResaleListing:
    listing = repository.get(session, merchant_id, listing_id, lock=lock)
    if listing is None:
        raise NotFound("no such listing")
    return listing


def mark_sold(session: Session, merchant_id: int, listing_id: int, *, actor: Actor) -> ResaleListing:
    """``active -> sold``; a listing sold or withdrawn already is a conflict (409)."""
    return _close(session, merchant_id, listing_id, "sold", actor)


def withdraw(session: Session, merchant_id: int, listing_id: int, *, actor: Actor) -> ResaleListing:
    """``active -> withdrawn`` (no longer offered)."""
    return _close(session, merchant_id, listing_id, "withdrawn", actor)


def _close(session: Session, merchant_id: int, listing_id: int, status: str, actor: Actor) -> ResaleListing:
    listing = get_listing(session, merchant_id, listing_id, lock=True)
    if listing.status != "active":
        raise Conflict(
            f"this listing is {listing.status}, it can no longer be {status}",
            code="listing_not_active",
            extra={"status": listing.status},
        )
    now = clock.now()
    listing.status = status
    if status == "sold":
        listing.sold_at = now
    else:
        listing.withdrawn_at = now
    listing.updated_at = now
    session.flush()
    _record(session, listing, f"listing.{status}", actor, before={"status": "active"}, after={"status": status})
    return listing


def _record(
    session: Session,
    listing: ResaleListing,
    action: str,
    actor: Actor,
    *,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    audit_service.record(
        session,
        merchant_id=listing.merchant_id,
        subject_type=SUBJECT,
        subject_id=listing.id,
        action=action,
        actor=actor,
        before=before,
        after=after,
    )


@dataclass(frozen=True)
class Page:
    items: list[ResaleListing]
    next_cursor: str | None


def list_listings(
    session: Session,
    merchant_id: int,
    *,
    status: str | None = "active",
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """Oldest first; ``status=None`` lists every listing."""
    after_id = _decode_cursor(cursor) if cursor else None
    rows = repository.search(session, merchant_id, status=status, after_id=after_id, limit=limit + 1)
    items = rows[:limit]
    return Page(items, _encode_cursor(items[-1].id) if len(rows) > limit else None)


def count_by_status(session: Session, merchant_id: int) -> dict[str, int]:
    return repository.count_by_status(session, merchant_id)


def listings_for_units(session: Session, merchant_id: int, unit_ids: Sequence[int]) -> dict[int, ResaleListing]:
    return repository.by_units(session, merchant_id, unit_ids)


def feed(session: Session, merchant_id: int, format: Literal["csv", "json"] = "csv") -> str:
    """Every active listing, as CSV (one row per listing, prices as decimals) or JSON."""
    rows = [
        _feed_row(listing)
        for listing in repository.search(session, merchant_id, status="active", after_id=None, limit=None)
    ]
    if format == "json":
        return json.dumps({"listings": rows}, ensure_ascii=False)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FEED_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: _cell(value) for key, value in row.items() if key in FEED_COLUMNS})
    return buffer.getvalue()


def _feed_row(listing: ResaleListing) -> dict[str, Any]:
    return {
        "id": listing.id,
        "sku": listing.sku,
        "title": listing.title,
        "grade": listing.grade,
        "price": str(Money(listing.price_amount, listing.currency).to_decimal()),
        "original_price": str(Money(listing.original_price_amount, listing.currency).to_decimal()),
        "currency": listing.currency,
        "discount_percent": listing.discount_percent,
        "description_en": listing.description_en,
        "description_fr": listing.description_fr,
        "photos": list(listing.photos),
        "price_amount": listing.price_amount,
        "original_price_amount": listing.original_price_amount,
    }


def _cell(value: object) -> object:
    """Photos are separated by spaces; a text cell that a spreadsheet would run as a formula is
    prefixed with a quote."""
    if isinstance(value, list):
        value = " ".join(str(item) for item in value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def listing_out(listing: ResaleListing) -> ListingOut:
    return ListingOut(
        id=listing.id,
        inspection_unit_id=listing.inspection_unit_id,
        sku=listing.sku,
        title=listing.title,
        grade=listing.grade,
        original_price_amount=listing.original_price_amount,
        price_amount=listing.price_amount,
        currency=listing.currency,
        discount_percent=listing.discount_percent,
        description_en=listing.description_en,
        description_fr=listing.description_fr,
        photos=list(listing.photos),
        status=listing.status,
        created_at=clock.as_utc(listing.created_at),
        sold_at=clock.as_utc(listing.sold_at) if listing.sold_at else None,
        withdrawn_at=clock.as_utc(listing.withdrawn_at) if listing.withdrawn_at else None,
    )


def _encode_cursor(listing_id: int) -> str:
    return base64.urlsafe_b64encode(f"l:{listing_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, value = raw.split(":", 1)
        if prefix != "l" or not value.isdigit():
            raise ValueError(raw)
        return int(value)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("this cursor is not one we gave out", field="cursor", code="invalid_cursor") from None
