"""Catalogue weights to the milligram, on both databases: the API and the CSV import take grams
with up to three decimals, the variant stores integer milligrams, and the precision scale's
check compares the unit with the exact catalogue weight (a 3.4 g ring is not a 3 g ring)."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retour.catalog import service as catalog_service
from retour.catalog.schemas import ProductIn
from retour.importer import csv_import
from retour.kit.db import unit_of_work
from retour.models import Variant
from retour.receiving import inspection
from retour.receiving import service as receiving_service
from tests import factories
from tests.warehouse.builders import STAFF, Seeded, seed

RING = "RING-GOLD-52"
JEWELRY_OK = {"authenticity": True, "stone_setting": True, "clasp": True, "metal": True}


def stored_milligrams(factory: sessionmaker[Session], merchant_id: int) -> dict[str, int | None]:
    with unit_of_work(factory, write=False) as session:
        rows = session.execute(
            select(Variant.sku, Variant.weight_mg).where(Variant.merchant_id == merchant_id).order_by(Variant.sku)
        )
        return {sku: milligrams for sku, milligrams in rows}


def product(*weights: Any) -> dict[str, Any]:
    return {
        "external_id": "ring-lune",
        "title": "Bague Lune or",
        "category": "rings",
        "variants": [
            {"sku": f"RING-{index}", "price_amount": 12900, "weight_grams": weight}
            for index, weight in enumerate(weights)
        ],
    }


def test_the_api_takes_and_gives_grams_to_the_milligram(
    client: TestClient, shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    created = client.post("/api/v1/products", json=product(3.4, "12.125", 5, None), headers=shop["headers"])
    assert created.status_code in (200, 201), created.text
    assert [variant["weight_grams"] for variant in created.json()["variants"]] == [3.4, 12.125, 5, None]
    assert stored_milligrams(factory, shop["id"]) == {"RING-0": 3400, "RING-1": 12125, "RING-2": 5000, "RING-3": None}


def test_more_than_three_decimals_or_a_negative_weight_is_refused(
    client: TestClient, shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    for weight in ("3.4567", -1):
        response = client.post("/api/v1/products", json=product(weight), headers=shop["headers"])
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "weight_grams" in response.text
    assert stored_milligrams(factory, shop["id"]) == {}


def test_the_csv_import_reads_decimal_grams(factory: sessionmaker[Session], tmp_path: Path) -> None:
    with unit_of_work(factory) as session:
        merchant = factories.merchant(session, slug="maison-poids")
        merchant_id = merchant.id
    path = tmp_path / "products.csv"
    path.write_text(
        "product_external_id,title,category,tags,sku,variant_title,price,currency,final_sale,weight_grams,attributes\n"
        'ring,Bague,rings,,RING-A,52,420.00,EUR,no,"3,4",\n'
        "ring,,,,RING-B,54,420.00,,no,12.125,\n"
        "ring,,,,RING-C,56,420.00,,no,,\n"
        "medal,Médaille,necklaces,,MEDAL,,119.00,EUR,no,3.4567,\n",
        encoding="utf-8",
    )
    report = csv_import.run(
        factory, kind="products", path=path, shop="maison-poids", console=Console(file=io.StringIO(), width=200)
    )
    assert [(error.line, error.field, error.message) for error in report.errors] == [
        (5, "weight_grams", "Decimal input should have no more than 3 decimal places")
    ]
    assert stored_milligrams(factory, merchant_id) == {"RING-A": 3400, "RING-B": 12125, "RING-C": None}


def weigh(factory: sessionmaker[Session], shop: Seeded, unit_id: int, grams: str) -> tuple[bool, str, int | None]:
    with unit_of_work(factory) as session:
        unit = inspection.record_inspection(
            session,
            shop.merchant_id,
            unit_id,
            grade="new",
            answers=JEWELRY_OK,
            measured_weight_grams=Decimal(grams),
            actor=STAFF,
        )
        return bool(unit.accepted), str(unit.checklist_answers["weight_status"]), unit.expected_weight_milligrams


def test_a_ring_of_3_4_grams_is_weighed_against_3_4_grams(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2})
    with unit_of_work(factory) as session:
        catalog_service.upsert_product(
            session,
            shop.merchant_id,
            ProductIn.model_validate(
                {
                    "external_id": "ring-lune",
                    "title": "Bague Lune or",
                    "category": "rings",
                    "variants": [{"sku": RING, "price_amount": 12900, "weight_grams": "3.4"}],
                }
            ),
        )
        receipt = receiving_service.receive_parcel(
            session, shop.merchant_id, shop.return_id, lines=[(shop.lines[RING], 2)], actor=STAFF
        )
        first, second = (
            unit.id for unit in receiving_service.describe_receipt(session, shop.merchant_id, receipt).units
        )
        scan = receiving_service.find_return_for_scan(session, shop.merchant_id, shop.number)
        assert [line.expected_weight_grams for line in scan.lines] == [Decimal("3.4")]
    # Tolerance max(3 % of 3.4 g, 0.2 g) = 0.2 g: 3.4 g passes, 3.0 g (a 3 g ring) does not.
    assert weigh(factory, shop, first, "3.4") == (True, "within_tolerance", 3400)
    assert weigh(factory, shop, second, "3.0") == (False, "too_light", 3400)


def test_the_scan_tells_the_expected_weight_in_grams(client: TestClient, shop: dict[str, Any]) -> None:
    headers = shop["headers"]
    body = {**product("3.4"), "variants": [{"sku": "RING-GOLD-52", "price_amount": 12900, "weight_grams": "3.4"}]}
    assert client.post("/api/v1/products", json=body, headers=headers).status_code in (200, 201)
    order = client.post("/api/v1/orders", json=factories.order_payload(), headers=headers).json()
    ring = order["lines"][0]
    request = {
        "order_id": order["id"],
        "resolution": "refund",
        "method": "prepaid_label",
        "lines": [{"order_line_id": ring["id"], "quantity": 2, "reason_code": "too_small"}],
    }
    created = client.post("/api/v1/returns", json=request, headers=headers).json()
    scanned = client.get(f"/api/v1/warehouse/scan/{created['number'].replace('-', '')}", headers=headers).json()
    assert (scanned["expected_weight_grams"], scanned["lines"][0]["expected_weight_grams"]) == (6.8, 3.4)
