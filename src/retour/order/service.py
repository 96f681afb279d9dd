"""Orders as the shop saw them. In through the API (upsert by external id) and CSV import."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from retour.catalog import service as catalog_service
from retour.kit import clock
from retour.kit.errors import Conflict, NotFound
from retour.models import Customer, Order, OrderLine, Tender
from retour.order import repository
from retour.order.schemas import (
    AddressIn,
    AddressOut,
    CustomerIn,
    OrderIn,
    OrderLineIn,
    OrderLineOut,
    OrderOut,
    TenderOut,
)


def upsert_order(session: Session, merchant_id: int, data: OrderIn) -> tuple[Order, bool]:
    """Create the order or bring it up to date; the same payload twice changes nothing.
    Returns the order and whether it was created. Lines already in a return cannot be removed.
    The same new order delivered twice at once (platforms retry webhooks in parallel) ends as one
    creation and one update."""
    try:
        return _upsert_order(session, merchant_id, data)
    except _CreatedMeanwhile:
        return _upsert_order(session, merchant_id, data)


class _CreatedMeanwhile(Exception):
    """Another transaction created this very order while this one was building it."""


def _upsert_order(session: Session, merchant_id: int, data: OrderIn) -> tuple[Order, bool]:
    customer = upsert_customer(session, merchant_id, data.customer)
    order = repository.by_external_id(session, merchant_id, data.external_id)
    created = order is None
    try:
        # The savepoint first, then the changes, and no autoflush on the way (the catalogue lookup
        # would flush a half-built order): a conflict surfaces at the one flush at the end, where it
        # is recognised and named, and rolls back this order only.
        with session.begin_nested(), session.no_autoflush:
            if order is None:
                order = Order(merchant_id=merchant_id, external_id=data.external_id, lines=[], tenders=[])
                session.add(order)
            _apply_header(order, data, customer)
            _apply_lines(session, merchant_id, order, data.lines)
            order.tenders = [
                Tender(merchant_id=merchant_id, kind=t.kind, amount=t.amount, reference=t.reference)
                for t in data.tenders
            ]
            session.flush()
    except IntegrityError as error:
        if created and repository.by_external_id(session, merchant_id, data.external_id) is not None:
            raise _CreatedMeanwhile from None
        raise _conflict(error) from None
    return order, created


def _conflict(error: IntegrityError) -> Conflict:
    text = str(error.orig).lower()
    if "number" in text:
        return Conflict("another order already has this number", field="number", code="order_number_taken")
    if "foreign key" in text or "return_line" in text:
        return Conflict("a line that is part of a return cannot be removed", field="lines", code="order_line_in_return")
    return Conflict("the order conflicts with existing data", code="order_conflict")


def stored_address(address: AddressIn) -> dict[str, Any] | None:
    """The delivery address kept with the order, or None when the shop sent only the postal code
    and country (all the policy and the portal need)."""
    return address.model_dump() if (address.name or address.lines or address.city or address.phone) else None


def _apply_header(order: Order, data: OrderIn, customer: Customer) -> None:
    order.number = data.number
    order.customer_id = customer.id
    order.email = data.customer.email.lower()
    order.customer_name = data.customer.name
    order.language = data.customer.language
    order.postal_code = data.shipping_address.postal_code
    order.country = data.shipping_address.country
    order.shipping_address = stored_address(data.shipping_address)
    order.currency = data.currency
    order.placed_at = data.placed_at
    order.shipped_at = data.shipped_at
    order.delivered_at = data.delivered_at
    order.shipping_amount = data.shipping_amount
    order.tags = list(data.tags)
    order.gift_code = data.gift_code


def _apply_lines(session: Session, merchant_id: int, order: Order, lines: list[OrderLineIn]) -> None:
    catalog = catalog_service.find_variants(session, merchant_id, [line.sku for line in lines])
    existing = {line.external_id: line for line in order.lines}
    kept: list[OrderLine] = []
    for item in lines:
        line = existing.pop(item.external_id, None) or OrderLine(merchant_id=merchant_id, external_id=item.external_id)
        found = catalog.get(item.sku)
        variant, product = found if found else (None, None)
        line.variant_id = variant.id if variant else None
        line.product_external_id = product.external_id if product else None
        line.sku = item.sku
        title = item.title or (f"{product.title} {variant.title}".strip() if product and variant else item.sku)
        line.title = title[:300]  # product and variant titles take 300 characters each, the line's column 300
        line.category = item.category if item.category is not None else (product.category if product else "")
        line.tags = list(item.tags if item.tags is not None else (product.tags if product else []))
        line.is_final_sale = (
            item.is_final_sale if item.is_final_sale is not None else bool(variant and variant.is_final_sale)
        )
        line.attributes = dict(
            item.attributes if item.attributes is not None else (variant.attributes if variant else {})
        )
        line.image_url = item.image_url or (product.image_url if product else None)
        line.quantity = item.quantity
        line.unit_price_amount = item.unit_price_amount
        line.discount_amount = item.discount_amount
        line.tax_amount = item.tax_amount
        kept.append(line)
    order.lines = kept


def upsert_customer(session: Session, merchant_id: int, data: CustomerIn) -> Customer:
    email = data.email.strip().lower()
    customer = repository.customer_by_email(session, merchant_id, email)
    if customer is None:
        try:
            with session.begin_nested():
                customer = Customer(merchant_id=merchant_id, email=email)
                session.add(customer)
                session.flush()
        except IntegrityError:
            # Another order of this new customer, in a transaction that committed meanwhile.
            customer = repository.customer_by_email(session, merchant_id, email)
            if customer is None:
                raise
    customer.name = data.name or customer.name or ""
    customer.language = data.language
    customer.tags = sorted(set(data.tags))
    session.flush()
    return customer


def get_order(session: Session, merchant_id: int, order_id: int, *, lock: bool = False, tenders: bool = True) -> Order:
    """``tenders=False``: the caller never reads ``order.tenders`` (one query less)."""
    order = repository.get(session, merchant_id, order_id, lock=lock, tenders=tenders)
    if order is None:
        raise NotFound("no such order")
    return order


def find_order_by_number(session: Session, merchant_id: int, number: str) -> Order | None:
    return repository.by_number(session, merchant_id, number)


def get_customer(session: Session, merchant_id: int, customer_id: int) -> Customer:
    customer = repository.get_customer(session, merchant_id, customer_id)
    if customer is None:
        raise NotFound("no such customer")
    return customer


def line_paid_amount(line: OrderLine) -> int:
    return line.unit_price_amount * line.quantity - line.discount_amount


def order_out(order: Order) -> OrderOut:
    return OrderOut(
        id=order.id,
        external_id=order.external_id,
        number=order.number,
        currency=order.currency,
        email=order.email,
        customer_name=order.customer_name,
        customer_id=order.customer_id,
        postal_code=order.postal_code,
        country=order.country,
        shipping_address=AddressOut(**order.shipping_address) if order.shipping_address else None,
        language=order.language,
        # SQLite hands back naive datetimes: the API always answers with the offset.
        placed_at=clock.as_utc(order.placed_at),
        shipped_at=clock.as_utc(order.shipped_at) if order.shipped_at else None,
        delivered_at=clock.as_utc(order.delivered_at) if order.delivered_at else None,
        shipping_amount=order.shipping_amount,
        total_paid_amount=sum(line_paid_amount(line) for line in order.lines) + order.shipping_amount,
        tags=list(order.tags),
        lines=[
            OrderLineOut(
                id=line.id,
                external_id=line.external_id,
                sku=line.sku,
                title=line.title,
                category=line.category,
                tags=list(line.tags),
                attributes=dict(line.attributes),
                image_url=line.image_url,
                is_final_sale=line.is_final_sale,
                quantity=line.quantity,
                unit_price_amount=line.unit_price_amount,
                discount_amount=line.discount_amount,
                tax_amount=line.tax_amount,
                paid_amount=line_paid_amount(line),
            )
            for line in order.lines
        ],
        tenders=[TenderOut(kind=t.kind, amount=t.amount, reference=t.reference) for t in order.tenders],
    )
