"""Second-hand listings against a real database (SQLite, and PostgreSQL when configured): price and
honest description from the inspection, the shop's discounts, the CSV and JSON feed, sold and
withdrawn, and what a refusal leaves untouched."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.db import unit_of_work
from retour.kit.errors import Conflict, InvalidInput, NotFound
from retour.kit.money import Money
from retour.models import ResaleListing
from retour.receiving import inspection
from retour.receiving import service as receiving_service
from retour.receiving.schemas import WarehouseSettings
from retour.resale import service
from tests.warehouse.builders import STAFF, Seeded, refused, seed

RING = "RING-GOLD-52"
JEWELRY_OK = {"authenticity": True, "stone_setting": True, "clasp": True, "metal": True}


def list_units(factory: sessionmaker[Session], shop: Seeded, *grades: str, notes: str = "") -> list[int]:
    """Receive one ring per grade, inspect it so, apply the default disposition; the listing ids."""
    with unit_of_work(factory) as session:
        receipt = receiving_service.receive_parcel(
            session, shop.merchant_id, shop.return_id, lines=[(shop.lines[RING], len(grades))], actor=STAFF
        )
        unit_ids = [unit.id for unit in receiving_service.describe_receipt(session, shop.merchant_id, receipt).units]
        listings = []
        for unit_id, grade in zip(unit_ids, grades, strict=True):
            inspection.record_inspection(
                session,
                shop.merchant_id,
                unit_id,
                grade=grade,
                answers={**JEWELRY_OK, "metal": grade == "used"},
                measured_weight_grams=Decimal("2.98"),
                notes=notes,
                photos=[f"photos/{unit_id}-front.jpg", f"photos/{unit_id}-side.jpg"],
                actor=STAFF,
            )
            unit = inspection.apply_disposition(session, shop.merchant_id, unit_id, actor=STAFF)
            assert unit.final_disposition == "resell_second_hand"
            listings.append(service.listings_for_units(session, shop.merchant_id, [unit_id])[unit_id].id)
        return listings


def test_a_used_ring_is_listed_at_the_discounted_price_with_an_honest_description(
    factory: sessionmaker[Session],
) -> None:
    shop = seed(factory, {RING: 2}, reason="changed_mind")
    listing_id = list_units(factory, shop, "used", notes="Légères rayures sur l'anneau.")[0]
    with unit_of_work(factory, write=False) as session:
        listing = service.get_listing(session, shop.merchant_id, listing_id)
        out = service.listing_out(listing).model_dump(exclude={"created_at"})
        unit_id = listing.inspection_unit_id
    assert out == {
        "id": listing_id,
        "inspection_unit_id": unit_id,
        "sku": RING,
        "title": "Bague Lune or 52",
        "grade": "used",
        "original_price_amount": 12900,
        "price_amount": 9030,
        "currency": "EUR",
        "discount_percent": "30",
        "description_en": "Second-hand item from a customer return. Worn or used before it was returned: it may show "
        "light signs of use. Inspection notes: Légères rayures sur l'anneau. Priced 30% below the original price.",
        "description_fr": "Article de seconde main, issu d'un retour client. Porté ou utilisé avant d'être retourné : "
        "il peut présenter de légères traces d'usage. Notes de l'inspection : Légères rayures sur l'anneau. "
        "Prix réduit de 30 % par rapport au prix d'origine.",
        "photos": [f"photos/{unit_id}-front.jpg", f"photos/{unit_id}-side.jpg"],
        "status": "active",
        "sold_at": None,
        "withdrawn_at": None,
    }


def test_the_shops_discounts_replace_the_defaults(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2}, reason="changed_mind")
    with unit_of_work(factory) as session:
        receiving_service.update_warehouse_settings(
            session,
            shop.merchant_id,
            WarehouseSettings.model_validate({"resale_discounts": {"used": "12.5", "lightly_damaged": 40}}),
            actor=STAFF,
        )
    used, damaged = list_units(factory, shop, "used", "lightly_damaged")
    with unit_of_work(factory, write=False) as session:
        prices = [
            (listing.price_amount, listing.discount_percent)
            for listing in (
                service.get_listing(session, shop.merchant_id, used),
                service.get_listing(session, shop.merchant_id, damaged),
            )
        ]
    assert prices == [(11288, "12.5"), (7740, "40")]  # 12900 − 1612.5 (half-even: 1612) ; 12900 − 5160


def test_feed_lists_active_listings_as_csv_and_json(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2}, reason="changed_mind")
    kept, sold = list_units(factory, shop, "used", "lightly_damaged")
    with unit_of_work(factory) as session:
        service.mark_sold(session, shop.merchant_id, sold, actor=STAFF)
    with unit_of_work(factory, write=False) as session:
        listing = service.get_listing(session, shop.merchant_id, kept)
        csv_feed = service.feed(session, shop.merchant_id, "csv")
        json_feed = json.loads(service.feed(session, shop.merchant_id, "json"))
    unit = listing.inspection_unit_id
    assert csv_feed.splitlines() == [
        "id,sku,title,grade,price,original_price,currency,discount_percent,description_en,description_fr,photos",
        f"{kept},RING-GOLD-52,Bague Lune or 52,used,90.30,129.00,EUR,30,{listing.description_en},"  # no comma: unquoted
        f'"{listing.description_fr}",photos/{unit}-front.jpg photos/{unit}-side.jpg',
    ]
    assert json_feed == {
        "listings": [
            {
                "id": kept,
                "sku": RING,
                "title": "Bague Lune or 52",
                "grade": "used",
                "price": "90.30",
                "original_price": "129.00",
                "currency": "EUR",
                "discount_percent": "30",
                "description_en": listing.description_en,
                "description_fr": listing.description_fr,
                "photos": [f"photos/{unit}-front.jpg", f"photos/{unit}-side.jpg"],
                "price_amount": 9030,
                "original_price_amount": 12900,
            }
        ]
    }


def test_a_spreadsheet_formula_in_a_title_is_neutralised_in_the_csv(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2}, reason="changed_mind")
    listing_id = list_units(factory, shop, "used")[0]
    with unit_of_work(factory) as session:
        listing = session.get(ResaleListing, listing_id)
        assert listing is not None
        listing.title = '=HYPERLINK("http://evil.example")'
    with unit_of_work(factory, write=False) as session:
        row = service.feed(session, shop.merchant_id, "csv").splitlines()[1]
    assert row.startswith(f'{listing_id},RING-GOLD-52,"\'=HYPERLINK(""http://evil.example"")",used,')


def test_sold_and_withdrawn_listings_are_final(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2}, reason="changed_mind")
    first, second = list_units(factory, shop, "used", "used")
    with unit_of_work(factory) as session:
        sold = service.mark_sold(session, shop.merchant_id, first, actor=STAFF)
        withdrawn = service.withdraw(session, shop.merchant_id, second, actor=STAFF)
        assert (sold.status, withdrawn.status) == ("sold", "withdrawn")
        assert sold.sold_at is not None and withdrawn.withdrawn_at is not None
    for act, listing_id, status in (
        (service.mark_sold, first, "sold"),
        (service.withdraw, first, "sold"),
        (service.mark_sold, second, "withdrawn"),
    ):
        error = refused(
            factory,
            lambda session, act=act, listing_id=listing_id: act(session, shop.merchant_id, listing_id, actor=STAFF),
            Conflict,
        )  # type: ignore[misc]
        assert (error.code, error.extra) == ("listing_not_active", {"status": status})
    with unit_of_work(factory, write=False) as session:
        assert service.list_listings(session, shop.merchant_id).items == []
        everything = service.list_listings(session, shop.merchant_id, status=None, limit=1)
        rest = service.list_listings(session, shop.merchant_id, status=None, cursor=everything.next_cursor)
        assert [item.id for item in everything.items + rest.items] == [first, second]
        assert rest.next_cursor is None
        assert service.count_by_status(session, shop.merchant_id) == {"sold": 1, "withdrawn": 1}


def test_another_shop_cannot_see_or_sell_a_listing(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2}, reason="changed_mind")
    other = seed(factory)
    listing_id = list_units(factory, shop, "used")[0]
    error = refused(
        factory, lambda session: service.mark_sold(session, other.merchant_id, listing_id, actor=STAFF), NotFound
    )
    assert error.code == "not_found"
    with unit_of_work(factory, write=False) as session:
        assert service.feed(session, other.merchant_id, "json") == '{"listings": []}'


def test_a_grade_with_nothing_to_sell_cannot_be_listed(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, {RING: 2}, reason="changed_mind")
    unit_id = list_units(factory, shop, "used")[0]
    with pytest.raises(InvalidInput) as caught, unit_of_work(factory) as session:
        service.create_listing(
            session,
            shop.merchant_id,
            inspection_unit_id=unit_id,
            sku=RING,
            title="Bague",
            grade="missing",
            original=Money(12900, "EUR"),
            inspection_notes="",
            photos=[],
            actor=STAFF,
        )
    assert (caught.value.code, caught.value.field) == ("not_resellable", "grade")
