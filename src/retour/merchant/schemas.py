"""The shop's branding as the API reads and replaces it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ShopSettingsIn(BaseModel):
    """The whole branding: a ``logo_url`` left out or null means no logo. The service checks the
    values (``invalid_logo_url``, ``invalid_brand_color``, ``invalid_language``...)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(max_length=1000)
    logo_url: str | None = Field(default=None, max_length=1000, description="an https:// address or a /path")
    brand_color: str = Field(max_length=100, description="#rrggbb")
    default_language: str = Field(max_length=10, description="fr or en")


class ShopSettingsOut(BaseModel):
    slug: str
    name: str
    logo_url: str | None
    brand_color: str
    default_language: str
    default_currency: str
    portal_path: str = Field(description="the customer portal of the shop")
