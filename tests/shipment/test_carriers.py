"""The carrier port: the built-in adapter satisfies it, is deterministic, and fails through the
one exception tree."""

from __future__ import annotations

from datetime import date

import pytest

from retour.shipment import carriers, rules
from retour.shipment.rules import Address


def request(method: str = "prepaid_label", parcel: int = 1) -> carriers.LabelRequest:
    return carriers.LabelRequest(
        merchant_id=7,
        rma_number="R-000042",
        parcel=parcel,
        method=method,
        shop_name="Maison Test",
        sender=Address("Camille Martin", postal_code="75011", country="FR"),
        recipient=Address("Maison Test", ("12 rue des Lilas",), "69002", "Lyon", "FR"),
        today=date(2030, 1, 7),
    )


def test_the_builtin_carrier_is_a_carrier_adapter_and_deterministic() -> None:
    adapter: carriers.CarrierAdapter = carriers.carrier_for("builtin")
    first, again = adapter.create_label(request()), adapter.create_label(request())
    assert first == again
    # Luhn over 00007 0000042 01, worked by hand: 2 + 4 + 4 + 7 = 17, check digit 3.
    assert first.tracking_number == rules.tracking_number(7, "R-000042", 1) == "RT000070000042013"
    assert first.qr_payload == "RETOUR;RMA=R-000042;TRK=RT000070000042013"
    assert first.expires_on == date(2030, 2, 6)
    assert first.pdf.startswith(b"%PDF")
    assert adapter.create_label(request(parcel=2)).tracking_number == "RT000070000042021"


def test_no_tracking_number_for_a_return_in_store() -> None:
    label = carriers.BuiltinCarrier().create_label(request("in_store"))
    assert (label.tracking_number, label.qr_payload, label.expires_on) == (None, "RETOUR;RMA=R-000042", None)


def test_tracking_and_errors() -> None:
    builtin = carriers.BuiltinCarrier()
    assert builtin.track("RT000070000042013") == []
    with pytest.raises(carriers.CarrierFinalError):
        builtin.track("RT000070000042014")  # wrong check digit (3 is right)
    with pytest.raises(carriers.CarrierFinalError):
        carriers.carrier_for("shippo")
    assert issubclass(carriers.CarrierRetryableError, carriers.CarrierError)
    assert issubclass(carriers.CarrierFinalError, carriers.CarrierError)
    assert not issubclass(carriers.CarrierFinalError, carriers.CarrierRetryableError)
