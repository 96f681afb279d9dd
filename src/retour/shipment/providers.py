"""Which carrier makes a shop's labels, and with which credentials.

A shop's carrier lives in ``merchant.settings["carrier"]``: ``{"provider": "shippo" | "easypost" |
"builtin", "api_key", "webhook_secret", "preferred_service", "tracking_carrier"}``. Without one,
or with ``builtin``, labels are drawn locally and nothing is tracked (the product works offline).
Returns in store and parcels the customer ships with their own carrier never buy a label."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from retour.shipment.carriers import CarrierAdapter, CarrierFinalError, carrier_for

PROVIDERS = ("builtin", "shippo", "easypost")


@dataclass(frozen=True)
class CarrierSettings:
    provider: str = "builtin"
    api_key: str = ""
    webhook_secret: str = ""
    preferred_service: str = ""
    tracking_carrier: str = ""

    def public(self) -> dict[str, Any]:
        """What may be shown back (API, back-office, audit): secrets only as their last characters."""
        return {
            "provider": self.provider,
            "api_key": _masked(self.api_key),
            "webhook_secret": _masked(self.webhook_secret),
            "preferred_service": self.preferred_service,
            "tracking_carrier": self.tracking_carrier,
        }


def _masked(secret: str) -> str | None:
    return f"…{secret[-4:]}" if secret else None


def settings_of(merchant_settings: Mapping[str, Any] | None) -> CarrierSettings:
    raw = (merchant_settings or {}).get("carrier")
    if not isinstance(raw, Mapping) or raw.get("provider") not in PROVIDERS:
        return CarrierSettings()
    return CarrierSettings(
        provider=str(raw["provider"]),
        api_key=str(raw.get("api_key") or ""),
        webhook_secret=str(raw.get("webhook_secret") or ""),
        preferred_service=str(raw.get("preferred_service") or ""),
        tracking_carrier=str(raw.get("tracking_carrier") or ""),
    )


def _shippo(settings: CarrierSettings) -> CarrierAdapter:
    from retour.integrations.shippo import ShippoCarrier

    return ShippoCarrier(
        settings.api_key,
        preferred_service=settings.preferred_service or None,
        tracking_carrier=settings.tracking_carrier or None,
    )


def _easypost(settings: CarrierSettings) -> CarrierAdapter:
    from retour.integrations.easypost import EasyPostCarrier

    return EasyPostCarrier(settings.api_key, preferred_service=settings.preferred_service or None)


# Tests replace a factory to put a recorded-response transport under the real adapter.
FACTORIES: dict[str, Callable[[CarrierSettings], CarrierAdapter]] = {
    "builtin": lambda settings: carrier_for("builtin"),
    "shippo": _shippo,
    "easypost": _easypost,
}


def adapter_for(settings: CarrierSettings) -> CarrierAdapter:
    if settings.provider != "builtin" and not settings.api_key:
        raise CarrierFinalError(f"the shop's {settings.provider} account has no API key")
    return FACTORIES[settings.provider](settings)


def adapter_named(name: str, settings: CarrierSettings) -> CarrierAdapter:
    """The adapter that made a parcel's label (its ``carrier`` column), with the shop's credentials."""
    if name == "builtin":
        return carrier_for("builtin")
    if name != settings.provider:
        raise CarrierFinalError(f"the shop no longer uses {name}")
    return adapter_for(settings)
