"""The demo's orders, written in batches.

``order_service.upsert_order`` costs about ten statements per order (it must find the customer,
the order and the variants, and may update rather than insert). The demo shop is brand new, so
there is nothing to find or update, and two thousand orders one by one would take most of the
load time. This writes the same rows from the same validated ``OrderIn`` payloads, a few hundred
per flush, exactly as the service would store them for a new order (the demo tests compare the
two, field by field). Nothing else in Retour should write orders this way."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from retour.catalog import service as catalog_service
from retour.models import Customer, Order, OrderLine, Product, Tender, Variant
from retour.order import service as order_service
from retour.order.schemas import OrderIn, OrderLineIn

BATCH = 250


def insert_new_orders(
    session: Session, merchant_id: int, payloads: list[OrderIn], *, progress: Callable[[int], None] = lambda n: None
) -> list[Order]:
    """Insert orders (and their customers) into a shop that has none of them yet."""
    skus = sorted({line.sku for payload in payloads for line in payload.lines})
    catalog = catalog_service.find_variants(session, merchant_id, skus)
    customers = _insert_customers(session, merchant_id, payloads)
    orders: list[Order] = []
    for start in range(0, len(payloads), BATCH):
        batch = [
            _order(merchant_id, payload, customers[payload.customer.email.strip().lower()], catalog)
            for payload in payloads[start : start + BATCH]
        ]
        session.add_all(batch)
        session.flush()
        orders.extend(batch)
        progress(len(batch))
    return orders


def _insert_customers(session: Session, merchant_id: int, payloads: list[OrderIn]) -> dict[str, Customer]:
    """One customer per email, known since their first order; like successive upserts, the last
    order says the name, language and tags."""
    customers: dict[str, Customer] = {}
    for payload in sorted(payloads, key=lambda item: item.placed_at):
        person = payload.customer
        email = person.email.strip().lower()
        customer = customers.get(email)
        if customer is None:
            at = payload.placed_at
            customer = customers[email] = Customer(
                merchant_id=merchant_id, email=email, name="", created_at=at, updated_at=at
            )
        customer.name = person.name or customer.name
        customer.language = person.language
        customer.tags = sorted(set(person.tags))
    session.add_all(customers.values())
    session.flush()
    return customers


def _order(merchant_id: int, data: OrderIn, customer: Customer, catalog: dict[str, tuple[Variant, Product]]) -> Order:
    at: datetime = data.placed_at  # synced when placed, like the shop's webhook would have
    return Order(
        merchant_id=merchant_id,
        external_id=data.external_id,
        number=data.number,
        customer_id=customer.id,
        email=data.customer.email.lower(),
        customer_name=data.customer.name,
        language=data.customer.language,
        postal_code=data.shipping_address.postal_code,
        country=data.shipping_address.country,
        shipping_address=order_service.stored_address(data.shipping_address),
        currency=data.currency,
        placed_at=data.placed_at,
        shipped_at=data.shipped_at,
        delivered_at=data.delivered_at,
        shipping_amount=data.shipping_amount,
        tags=list(data.tags),
        gift_code=data.gift_code,
        created_at=at,
        updated_at=at,
        lines=[_line(merchant_id, item, catalog.get(item.sku)) for item in data.lines],
        tenders=[
            Tender(merchant_id=merchant_id, kind=t.kind, amount=t.amount, reference=t.reference) for t in data.tenders
        ],
    )


def _line(merchant_id: int, item: OrderLineIn, found: tuple[Variant, Product] | None) -> OrderLine:
    variant, product = found if found else (None, None)
    return OrderLine(
        merchant_id=merchant_id,
        external_id=item.external_id,
        variant_id=variant.id if variant else None,
        product_external_id=product.external_id if product else None,
        sku=item.sku,
        title=item.title or (f"{product.title} {variant.title}".strip() if product and variant else item.sku),
        category=item.category if item.category is not None else (product.category if product else ""),
        tags=list(item.tags if item.tags is not None else (product.tags if product else [])),
        is_final_sale=item.is_final_sale if item.is_final_sale is not None else bool(variant and variant.is_final_sale),
        attributes=dict(item.attributes if item.attributes is not None else (variant.attributes if variant else {})),
        image_url=item.image_url or (product.image_url if product else None),
        quantity=item.quantity,
        unit_price_amount=item.unit_price_amount,
        discount_amount=item.discount_amount,
        tax_amount=item.tax_amount,
    )
