"""Where the parcel comes back, on both databases: the stock location serving the customer's
country (a warehouse before a store, the default otherwise) gives the label's return address, the
shop's store locations are the stores offered for a return in store, and shops without locations
keep their settings. Plus the parcel's weight from the catalogue, in milligrams."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retour.catalog import service as catalog_service
from retour.catalog.schemas import ProductIn
from retour.inventory import service as inventory_service
from retour.inventory.schemas import LocationIn
from retour.kit.errors import InvalidInput
from retour.models import Merchant, Shipment, StockLocation
from retour.shipment import carriers, rules
from retour.shipment import service as shipment_service
from tests import factories
from tests.warehouse.builders import AGENT, STAFF, create_return

SETTINGS: dict[str, Any] = {
    "return_addresses": {
        "default": {"name": "Maison Test - retours", "lines": ["12 rue des Lilas"], "postal_code": "69002"},
    },
    "stores": [{"code": "LYON-1", "name": "Maison Test Lyon", "address": "5 place Bellecour", "city": "Lyon"}],
}


def add_location(session: Session, merchant_id: int, code: str, **fields: Any) -> StockLocation:
    data = LocationIn.model_validate({"code": code, "name": fields.pop("name", code.title()), **fields})
    return inventory_service.create_location(session, merchant_id, data, actor=STAFF)


def address(street: str, postal_code: str, city: str, country: str) -> dict[str, Any]:
    return {"lines": [street], "postal_code": postal_code, "city": city, "country": country}


@pytest.fixture
def merchant(session: Session) -> Merchant:
    """A shop with settings addresses and locations: LYON (default, no country), PARIS (FR), a
    Brussels store and an Antwerp warehouse (both BE), Geneva (CH) without an address, and an
    inactive FR warehouse."""
    merchant = factories.merchant(session)
    merchant.settings = SETTINGS
    add_location(
        session, merchant.id, "LYON", name="Entrepôt Lyon", address=address("8 quai Rambaud", "69002", "Lyon", "FR")
    )
    add_location(
        session,
        merchant.id,
        "PARIS",
        name="Entrepôt Paris",
        address=address("12 rue des Orfèvres", "75003", "Paris", "FR"),
        countries_served=["FR", "MC"],
    )
    add_location(
        session,
        merchant.id,
        "BRU",
        name="Boutique Bruxelles",
        kind="store",
        address=address("3 avenue Louise", "1050", "Bruxelles", "BE"),
        countries_served=["BE"],
    )
    add_location(
        session,
        merchant.id,
        "ANVERS",
        name="Entrepôt Anvers",
        address=address("1 Meir", "2000", "Antwerpen", "BE"),
        countries_served=["BE"],
    )
    add_location(session, merchant.id, "GENEVE", name="Entrepôt Genève", countries_served=["CH"])
    closed = add_location(
        session, merchant.id, "AAA", address=address("1 rue Fermée", "75001", "Paris", "FR"), countries_served=["FR"]
    )
    closed.is_active = False
    session.flush()
    return merchant


def test_the_return_address_is_the_location_serving_the_customer_country(session: Session, merchant: Merchant) -> None:
    lines = {
        country: shipment_service.return_address_for(session, merchant, country).printable_lines()
        for country in ("fr", "BE", "DE", "CH", "")
    }
    assert lines == {
        "fr": ["Maison Test - Entrepôt Paris", "12 rue des Orfèvres", "75003 Paris", "FR"],
        "BE": ["Maison Test - Entrepôt Anvers", "1 Meir", "2000 Antwerpen", "BE"],  # a warehouse before a store
        "DE": ["Maison Test - Entrepôt Lyon", "8 quai Rambaud", "69002 Lyon", "FR"],  # the default
        "CH": ["Maison Test - Entrepôt Lyon", "8 quai Rambaud", "69002 Lyon", "FR"],  # Geneva has no address
        "": ["Maison Test - Entrepôt Lyon", "8 quai Rambaud", "69002 Lyon", "FR"],
    }


def test_the_label_and_the_packing_slip_carry_the_local_return_address(
    session: Session, merchant: Merchant, tmp_path: Path
) -> None:
    request = create_return(session, merchant.id, {"RING-GOLD-52": 1})  # an order delivered in FR
    shipment = shipment_service.create_shipment(
        session, merchant.id, request, method="prepaid_label", actor=AGENT, storage_dir=tmp_path
    )
    label = PdfReader(io.BytesIO((tmp_path / (shipment.label_path or "")).read_bytes())).pages[0].extract_text()
    assert "12 rue des Orfèvres" in label and "12 rue des Lilas" not in label
    slip = PdfReader(io.BytesIO(shipment_service.render_packing_slip_pdf(session, merchant.id, request)))
    assert "12 rue des Orfèvres" in slip.pages[0].extract_text()


def test_a_shop_without_usable_locations_keeps_its_settings(session: Session) -> None:
    bare = factories.merchant(session)
    bare.settings = SETTINGS
    assert shipment_service.return_address_for(session, bare, "FR").printable_lines() == [
        "Maison Test - retours",
        "12 rue des Lilas",
        "69002",
    ]
    assert [store.code for store in shipment_service.stores_for(session, bare)] == ["LYON-1"]
    add_location(session, bare.id, "DEPOT", countries_served=["FR"])  # no address: not a return address
    assert shipment_service.return_address_for(session, bare, "FR").name == "Maison Test - retours"
    assert [store.code for store in shipment_service.stores_for(session, bare)] == ["LYON-1"]  # not a store


def test_in_store_returns_go_to_the_shop_store_locations(session: Session, merchant: Merchant, tmp_path: Path) -> None:
    add_location(
        session,
        merchant.id,
        "LILLE",
        name="Boutique Lille",
        kind="store",
        address=address("2 Grand Place", "59000", "Lille", "FR"),
    )
    stores = shipment_service.stores_for(session, merchant)
    assert [(store.code, store.name, store.as_address().printable_lines()) for store in stores] == [
        ("BRU", "Boutique Bruxelles", ["Boutique Bruxelles", "3 avenue Louise", "1050 Bruxelles", "BE"]),
        ("LILLE", "Boutique Lille", ["Boutique Lille", "2 Grand Place", "59000 Lille", "FR"]),
    ]
    request = create_return(session, merchant.id, {"RING-GOLD-52": 1})
    with pytest.raises(InvalidInput) as caught:  # the settings' store is no longer offered
        shipment_service.create_shipment(
            session, merchant.id, request, method="in_store", store_code="LYON-1", actor=AGENT, storage_dir=tmp_path
        )
    assert (caught.value.field, caught.value.code) == ("store_code", "store_invalid")
    assert session.scalar(select(func.count()).select_from(Shipment)) == 0
    shipment = shipment_service.create_shipment(
        session, merchant.id, request, method="in_store", store_code="LILLE", actor=AGENT, storage_dir=tmp_path
    )
    label = PdfReader(io.BytesIO((tmp_path / (shipment.label_path or "")).read_bytes())).pages[0].extract_text()
    assert shipment.store_code == "LILLE" and "2 Grand Place" in label


def test_another_shop_locations_are_never_used(session: Session, merchant: Merchant) -> None:
    other = factories.merchant(session)
    assert shipment_service.return_address_for(session, other, "FR").printable_lines() == [other.name]
    assert shipment_service.stores_for(session, other) == []


def test_the_parcel_weight_is_the_catalogue_weight_of_the_items(
    session: Session, merchant: Merchant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for sku, grams in (("RING-GOLD-52", "3.4"), ("NECK-SILVER", "12.25")):
        catalog_service.upsert_product(
            session,
            merchant.id,
            ProductIn.model_validate(
                {
                    "external_id": sku.lower(),
                    "title": sku,
                    "variants": [{"sku": sku, "price_amount": 100, "weight_grams": grams}],
                }
            ),
        )
    sent: list[carriers.LabelRequest] = []
    make_label = shipment_service._make_label

    def recording(merchant: Merchant, method: str, request: carriers.LabelRequest) -> Any:
        sent.append(request)
        return make_label(merchant, method, request)

    monkeypatch.setattr(shipment_service, "_make_label", recording)
    both = create_return(session, merchant.id, {"RING-GOLD-52": 2, "NECK-SILVER": 1})
    shipment_service.create_shipment(session, merchant.id, both, method="drop_off", actor=AGENT, storage_dir=tmp_path)
    unknown = create_return(
        session, merchant.id, {"RING-GOLD-52": 1, "DRESS-M": 1}
    )  # no catalogue weight for the dress
    shipment_service.create_shipment(
        session, merchant.id, unknown, method="drop_off", actor=AGENT, storage_dir=tmp_path
    )
    assert [request.weight_grams for request in sent] == [20, 0]  # 2 × 3.4 + 12.25 = 19.05 g, rounded up


# --- the pure decisions ---------------------------------------------------------------------------


def test_parcel_weight_rounds_up_to_the_gram_and_is_unknown_when_one_item_is() -> None:
    assert rules.parcel_weight_grams([(3400, 2), (12250, 1)]) == 20
    assert rules.parcel_weight_grams([(3000, 1)]) == 3
    assert rules.parcel_weight_grams([(3400, 1), (None, 1)]) == 0
    assert rules.parcel_weight_grams([(3400, 1), (None, 0)]) == 4  # nothing of the unweighed item in the box
    assert rules.parcel_weight_grams([]) == 0


def test_return_location_prefers_a_warehouse_then_the_default_then_the_code() -> None:
    street = {"lines": ["1 rue"], "city": "X"}
    store = rules.Location("A-STORE", "Store", "store", street, ("BE",))
    second = rules.Location("C-WH", "Second", "warehouse", street, ("BE",))
    first = rules.Location("B-WH", "First", "warehouse", street, ("BE",))
    default = rules.Location("Z-DEF", "Default", "warehouse", street, (), is_default=True)
    assert rules.return_location([store, second, first, default], "be") == first
    assert rules.return_location([store, second, first, default], "NL") == default
    default_store = rules.Location("S", "Store", "store", street, (), is_default=True)
    assert rules.return_location([store, default_store], "NL") == default_store  # the default, even a store
    assert rules.return_location([rules.Location("N", "No address", "warehouse", {}, ("BE",))], "BE") is None
    assert rules.offered_stores([second, first], {"stores": [{"code": "S", "name": "Settings"}]}) == [
        rules.Store(code="S", name="Settings")
    ]
    settings = {"stores": [{"code": "S", "name": "x"}, {"code": "A-STORE", "name": "y", "hours": "9h-19h"}]}
    assert rules.offered_stores([store, second], settings) == [  # the settings' hours of the same code
        rules.Store(code="A-STORE", name="Store", address="1 rue", city="X", hours="9h-19h")
    ]
