"""The shop's catalogue, as far as returns need it: categories, tags, final sale, weights, variants."""

from __future__ import annotations

from sqlalchemy.orm import Session

from retour.catalog import repository
from retour.catalog.schemas import ProductIn, ProductOut, VariantOut
from retour.kit.errors import Conflict
from retour.models import Product, Variant
from retour.models.catalog import milligrams_of


def upsert_product(session: Session, merchant_id: int, data: ProductIn) -> Product:
    """Create or update a product and its variants, keyed by the shop's external id and SKUs."""
    product = repository.product_by_external_id(session, merchant_id, data.external_id)
    if product is None:
        product = Product(merchant_id=merchant_id, external_id=data.external_id, variants=[])
        session.add(product)
    product.title = data.title
    product.category = data.category
    product.tags = list(data.tags)
    product.image_url = data.image_url
    session.flush()
    existing = repository.variants_by_sku(session, merchant_id, [v.sku for v in data.variants])
    for item in data.variants:
        found = existing.get(item.sku)
        if found is not None and found[1].id != product.id:
            raise Conflict(f"SKU {item.sku} belongs to another product", field="variants.sku", code="sku_taken")
        variant = (
            found[0] if found is not None else Variant(merchant_id=merchant_id, product_id=product.id, sku=item.sku)
        )
        variant.external_id = item.external_id
        variant.title = item.title
        variant.price_amount = item.price_amount
        variant.currency = data.currency
        variant.is_final_sale = item.is_final_sale
        variant.weight_mg = milligrams_of(item.weight_grams)
        variant.inventory_quantity = item.inventory_quantity
        variant.attributes = dict(item.attributes)
        session.add(variant)
    session.flush()
    return product


def product_out(session: Session, merchant_id: int, product: Product) -> ProductOut:
    variants = repository.variants_of_product(session, merchant_id, product.id)
    return ProductOut(
        id=product.id,
        external_id=product.external_id,
        title=product.title,
        category=product.category,
        tags=list(product.tags),
        image_url=product.image_url,
        variants=[
            VariantOut(
                id=v.id,
                sku=v.sku,
                title=v.title,
                price_amount=v.price_amount,
                currency=v.currency,
                is_final_sale=v.is_final_sale,
                weight_grams=v.weight_grams,
                inventory_quantity=v.inventory_quantity,
                attributes=dict(v.attributes),
            )
            for v in variants
        ],
    )


def find_variants(session: Session, merchant_id: int, skus: list[str]) -> dict[str, tuple[Variant, Product]]:
    return repository.variants_by_sku(session, merchant_id, skus)


def in_stock(variant: Variant) -> bool:
    """Whether a variant can be promised to a customer: the shop sent no stock for it (not
    tracked), or some units are left."""
    return variant.inventory_quantity is None or variant.inventory_quantity > 0


def adjust_inventory_quantity(session: Session, merchant_id: int, sku: str, delta: int) -> int | None:
    """Units put back on sale (``delta`` > 0, a restocked return) or taken off sale (< 0, restocked
    stock written off): the variant's sellable quantity moves at once, in the caller's
    transaction, never below zero. Returns the new quantity, or None when the shop does not track
    stock for ``sku`` (or has no such variant)."""
    return repository.add_to_inventory_quantity(session, merchant_id, sku, delta)


def exchange_variants(session: Session, merchant_id: int, variant_ids: list[int]) -> dict[int, list[Variant]]:
    """What each variant can be exchanged for: the other variants of the same product."""
    return repository.sibling_variants(session, merchant_id, variant_ids)
