"""The shop's own settings: its name and branding, as the customer portal shows them."""

from __future__ import annotations

from fastapi import APIRouter

from retour.api.deps import DbSession, Reader, Writer
from retour.merchant import service
from retour.merchant.schemas import ShopSettingsIn, ShopSettingsOut
from retour.models import Merchant

router = APIRouter(tags=["shop"])


@router.get("/settings/shop", response_model=ShopSettingsOut)
def get_shop(session: DbSession, caller: Reader) -> ShopSettingsOut:
    """The shop's name, logo, brand colour and default language."""
    return _out(service.get_merchant(session, caller.merchant_id))


@router.put("/settings/shop", response_model=ShopSettingsOut)
def put_shop(data: ShopSettingsIn, session: DbSession, caller: Writer) -> ShopSettingsOut:
    """Replace the shop's branding. A refused field answers ``422`` naming it (all of them in
    ``errors``), and nothing changes."""
    merchant = service.update_branding(
        session,
        caller.merchant_id,
        name=data.name,
        logo_url=data.logo_url or "",
        brand_color=data.brand_color,
        default_language=data.default_language,
        actor=caller.actor,
    )
    return _out(merchant)


def _out(merchant: Merchant) -> ShopSettingsOut:
    return ShopSettingsOut(
        slug=merchant.slug,
        name=merchant.name,
        logo_url=merchant.logo_url,
        brand_color=merchant.brand_color,
        default_language=merchant.default_language,
        default_currency=merchant.default_currency,
        portal_path=f"/s/{merchant.slug}/",
    )
