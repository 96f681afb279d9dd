from __future__ import annotations

from fastapi import APIRouter

from retour.api.deps import DbSession, Writer
from retour.api.problems import responses
from retour.catalog import service
from retour.catalog.schemas import ProductIn, ProductOut

router = APIRouter(tags=["catalog"])


@router.post("/products", response_model=ProductOut, responses=responses(409))
def upsert_product(data: ProductIn, session: DbSession, caller: Writer) -> ProductOut:
    """Create or update a product and its variants, keyed by ``external_id`` and SKU."""
    product = service.upsert_product(session, caller.merchant_id, data)
    return service.product_out(session, caller.merchant_id, product)
