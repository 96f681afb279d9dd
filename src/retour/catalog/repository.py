from __future__ import annotations

from sqlalchemy import case, select, update
from sqlalchemy.orm import Session, aliased, selectinload

from retour.kit import clock
from retour.models import Product, Variant


def product_by_external_id(session: Session, merchant_id: int, external_id: str) -> Product | None:
    return session.scalars(
        select(Product)
        .where(Product.merchant_id == merchant_id, Product.external_id == external_id)
        .options(selectinload(Product.variants))
    ).first()


def variants_by_sku(session: Session, merchant_id: int, skus: list[str]) -> dict[str, tuple[Variant, Product]]:
    if not skus:
        return {}
    rows = session.execute(
        select(Variant, Product)
        .join(Product, Product.id == Variant.product_id)
        .where(Variant.merchant_id == merchant_id, Variant.sku.in_(set(skus)))
    )
    return {variant.sku: (variant, product) for variant, product in rows}


def variants_of_product(session: Session, merchant_id: int, product_id: int) -> list[Variant]:
    return list(
        session.scalars(
            select(Variant)
            .where(Variant.merchant_id == merchant_id, Variant.product_id == product_id)
            .order_by(Variant.id)
        )
    )


def sibling_variants(session: Session, merchant_id: int, variant_ids: list[int]) -> dict[int, list[Variant]]:
    """For each variant: the other variants of its product, in catalogue order."""
    if not variant_ids:
        return {}
    origin = aliased(Variant)
    rows = session.execute(
        select(origin.id, Variant)
        .join(Variant, (Variant.product_id == origin.product_id) & (Variant.merchant_id == origin.merchant_id))
        .where(origin.merchant_id == merchant_id, origin.id.in_(set(variant_ids)), Variant.id != origin.id)
        .order_by(origin.id, Variant.id)
    )
    siblings: dict[int, list[Variant]] = {variant_id: [] for variant_id in variant_ids}
    for origin_id, variant in rows:
        siblings[origin_id].append(variant)
    return siblings


def add_to_inventory_quantity(session: Session, merchant_id: int, sku: str, delta: int) -> int | None:
    """Add ``delta`` (negative to take) to the sellable quantity of the shop's variant ``sku``, in
    one ``UPDATE`` (no lost update between two restocks), never below zero. A variant whose stock
    the shop does not track (``NULL``), or an unknown SKU, is left alone: returns None."""
    after = Variant.inventory_quantity + delta
    return session.execute(
        update(Variant)
        .where(Variant.merchant_id == merchant_id, Variant.sku == sku, Variant.inventory_quantity.is_not(None))
        .values(inventory_quantity=case((after < 0, 0), else_=after), updated_at=clock.now())
        .returning(Variant.inventory_quantity)
        .execution_options(synchronize_session="fetch")
    ).scalar_one_or_none()
