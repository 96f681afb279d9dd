"""``retour import``: CSV files of products and orders, through the API's schemas and services."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker
from typer.testing import CliRunner

from retour.importer import csv_import
from retour.importer.csv_import import ImportReport, RowError
from retour.kit.db import unit_of_work
from retour.models import Customer, Order, OrderLine, Product, Tender, Variant
from tests import factories

PRODUCTS = """\
product_external_id,title,category,tags,sku,variant_title,price,currency,final_sale,weight_grams,attributes,inventory_quantity
ml-ring,Bague Croissant de Lune,rings,or-18k|best-seller,RING-OJ-52,or jaune / 52,420.00,EUR,no,4,taille=52|métal=or jaune,3
ml-ring,,,,RING-OJ-54,or jaune / 54,420.00,,no,4,taille=54|métal=or jaune,0
ml-medal,Médaille gravée,necklaces,gravure,MEDAL-AG,argent,"119,00",EUR,yes,5,métal=argent,
"""
ORDERS_HEADER = (
    "order_external_id,order_number,email,customer_name,language,customer_tags,postal_code,country,currency,"
    "placed_at,shipped_at,delivered_at,shipping,line_id,sku,title,quantity,unit_price,discount,tax,"
    "tender_kind,tender_amount\n"
)
# o-2 has its rows apart (lines 3 and 6); o-1 pays with a gift card and a card.
ORDERS = ORDERS_HEADER + (
    "o-1,ML-1,Camille@Example.com,Camille Martin,fr,vip,75011,FR,EUR,2026-11-01,2026-11-02,2026-11-04T15:30:00+01:00,"
    "4.90,1,RING-OJ-52,,1,420.00,42.00,63.00,gift_card,100.00\n"
    "o-2,ML-2,lea@example.com,Léa Petit,en,,1000,BE,EUR,2026-11-03T10:00:00Z,,,9.90,1,MEDAL-AG,,1,119.00,,20.65,card,128.90\n"
    "o-1,,,,,,,,,,,,,2,RING-OJ-54,,2,420.00,0,140.00,card,1122.90\n"
    "o-3,ML-3,ines@example.com,Inès Haddad,fr,,69003,FR,EUR,2026-11-05,,,0,1,MEDAL-AG,,1,119.00,0,19.83,card,119.00\n"
    "o-2,,,,,,,,,,,,,2,RING-OJ-52,,1,420.00,0,70.00,,\n"
)


@pytest.fixture
def shop(factory: sessionmaker[Session]) -> str:
    with unit_of_work(factory) as session:
        return factories.merchant(session, slug="maison-lune", name="Maison Lune").slug


def _import(
    factory: sessionmaker[Session], tmp_path: Path, kind: str, text: str, shop: str, *, name: str = "file.csv"
) -> tuple[ImportReport, str]:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    output = io.StringIO()
    report = csv_import.run(factory, kind=kind, path=path, shop=shop, console=Console(file=output, width=200))
    return report, output.getvalue()


def _counts(session: Session) -> dict[str, int]:
    return {
        model.__name__: session.scalar(select(func.count()).select_from(model)) or 0
        for model in (Product, Variant, Customer, Order, OrderLine, Tender)
    }


def _order(session: Session, external_id: str) -> Order | None:
    return session.scalars(
        select(Order)
        .where(Order.external_id == external_id)
        .options(selectinload(Order.lines), selectinload(Order.tenders))
    ).first()


def test_products_and_orders_are_imported_with_exact_amounts(
    factory: sessionmaker[Session], tmp_path: Path, shop: str
) -> None:
    products, _ = _import(factory, tmp_path, "products", PRODUCTS, shop)
    orders, output = _import(factory, tmp_path, "orders", ORDERS, shop)

    assert (products.created, products.updated, products.failed, products.errors) == (2, 0, 0, [])
    assert (orders.created, orders.updated, orders.failed, orders.errors) == (3, 0, 0, [])
    assert "orders: 3 imported, 0 updated, 0 failed" in output
    with factory() as session:
        variants = {v.sku: v for v in session.scalars(select(Variant))}
        assert variants["MEDAL-AG"].price_amount == 11900 and variants["MEDAL-AG"].is_final_sale
        assert variants["RING-OJ-54"].attributes == {"taille": "54", "métal": "or jaune"}
        assert variants["RING-OJ-54"].weight_grams == 4 and not variants["RING-OJ-54"].is_final_sale
        assert [variants[sku].inventory_quantity for sku in ("RING-OJ-52", "RING-OJ-54", "MEDAL-AG")] == [3, 0, None]
        ring = session.scalars(select(Product).where(Product.external_id == "ml-ring")).one()
        assert (ring.title, ring.category, ring.tags) == ("Bague Croissant de Lune", "rings", ["or-18k", "best-seller"])

        first = _order(session, "o-1")
        assert first is not None
        assert (first.number, first.email, first.customer_name, first.currency) == (
            "ML-1",
            "camille@example.com",
            "Camille Martin",
            "EUR",
        )
        assert first.shipping_amount == 490
        assert datetime.fromisoformat(str(first.delivered_at)).replace(tzinfo=UTC) == datetime(
            2026, 11, 4, 14, 30, tzinfo=UTC
        )
        assert datetime.fromisoformat(str(first.placed_at)).replace(tzinfo=UTC) == datetime(2026, 11, 1, 12, tzinfo=UTC)
        lines = [
            (line.external_id, line.sku, line.title, line.quantity, line.unit_price_amount, line.discount_amount)
            for line in first.lines
        ]
        assert lines == [
            ("1", "RING-OJ-52", "Bague Croissant de Lune or jaune / 52", 1, 42000, 4200),
            ("2", "RING-OJ-54", "Bague Croissant de Lune or jaune / 54", 2, 42000, 0),
        ]
        assert [line.tax_amount for line in first.lines] == [6300, 14000]
        assert [(t.kind, t.amount) for t in first.tenders] == [("gift_card", 10000), ("card", 112290)]
        customer = session.scalars(select(Customer).where(Customer.email == "camille@example.com")).one()
        assert customer.tags == ["vip"]

        second = _order(session, "o-2")
        assert second is not None
        assert [(line.sku, line.is_final_sale, line.category) for line in second.lines] == [
            ("MEDAL-AG", True, "necklaces"),
            ("RING-OJ-52", False, "rings"),
        ]
        assert (second.country, second.language, second.postal_code) == ("BE", "en", "1000")


def test_a_bad_row_leaves_its_whole_order_out_and_the_others_in(
    factory: sessionmaker[Session], tmp_path: Path, shop: str
) -> None:
    _import(factory, tmp_path, "products", PRODUCTS, shop)
    bad = ORDERS.replace("o-2,,,,,,,,,,,,,2,RING-OJ-52,,1,420.00,", "o-2,,,,,,,,,,,,,2,RING-OJ-52,,1,42O.00,")

    report, output = _import(factory, tmp_path, "orders", bad, shop)

    assert report.errors == [RowError(6, "unit_price", "'42O.00' is not an amount like 129.00")]
    assert (report.created, report.updated, report.failed) == (2, 0, 1)
    assert "line" in output and "unit_price" in output and "42O.00" in output
    with factory() as session:
        assert _order(session, "o-1") is not None and _order(session, "o-3") is not None
        assert _order(session, "o-2") is None
        assert (
            session.scalar(select(func.count()).select_from(Customer).where(Customer.email == "lea@example.com")) == 0
        )
        assert session.scalar(select(func.count()).select_from(OrderLine)) == 3


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (",2026-11-05,,,0,1,MEDAL-AG", ",2026-11-31,,,0,1,MEDAL-AG", RowError(5, "placed_at", "'2026-11-31' is not an ISO 8601 date (2026-11-02) or date-time")),
        ("ines@example.com", "ines-at-example.com", RowError(5, "email", "'ines-at-example.com' is not a valid email")),
        (",1,MEDAL-AG,,1,119.00,0,19.83", ",1,MEDAL-AG,,0,119.00,0,19.83", RowError(5, "quantity", "Input should be greater than or equal to 1")),
        (",1,MEDAL-AG,,1,119.00,0,19.83", ",1,MEDAL-AG,,1,119.00,120.00,0", RowError(5, "discount", "discount cannot exceed unit_price × quantity")),
        ("Inès Haddad,fr,", "Inès Haddad,de,", RowError(5, "language", "Input should be 'fr' or 'en'")),
        ("o-3,ML-3,", "o-3,ML-1,", RowError(5, "order_number", "another order already has this number")),
        ("69003,FR,EUR", "69003,FR,XYZ", RowError(5, "currency", "unknown ISO 4217 currency 'XYZ'")),
    ],
)  # fmt: skip
def test_each_kind_of_mistake_names_its_line_and_column(
    factory: sessionmaker[Session], tmp_path: Path, shop: str, old: str, new: str, expected: RowError
) -> None:
    _import(factory, tmp_path, "products", PRODUCTS, shop)
    assert old in ORDERS

    report, _ = _import(factory, tmp_path, "orders", ORDERS.replace(old, new), shop)

    assert report.errors == [expected]
    assert (report.created, report.failed) == (2, 1)
    with factory() as session:
        assert _order(session, "o-3") is None


def test_order_rows_must_agree_on_the_order(factory: sessionmaker[Session], tmp_path: Path, shop: str) -> None:
    _import(factory, tmp_path, "products", PRODUCTS, shop)
    text = ORDERS.replace("o-1,,,,,,,,,,,,,2,", "o-1,ML-9,,,,,,,,,,,,2,")

    report, _ = _import(factory, tmp_path, "orders", text, shop)

    assert report.errors == [RowError(4, "order_number", "'ML-9' differs from 'ML-1' on line 2")]
    with factory() as session:
        assert _order(session, "o-1") is None


def test_importing_the_same_files_again_changes_nothing(
    factory: sessionmaker[Session], tmp_path: Path, shop: str
) -> None:
    _import(factory, tmp_path, "products", PRODUCTS, shop)
    _import(factory, tmp_path, "orders", ORDERS, shop)
    with factory() as session:
        before = _counts(session)
        order = _order(session, "o-1")
        assert order is not None
        line_ids = [line.id for line in order.lines]

    products, _ = _import(factory, tmp_path, "products", PRODUCTS, shop)
    orders, _ = _import(factory, tmp_path, "orders", ORDERS, shop)

    assert (products.created, products.updated, products.failed) == (0, 2, 0)
    assert (orders.created, orders.updated, orders.failed) == (0, 3, 0)
    with factory() as session:
        assert (
            _counts(session)
            == before
            == {
                "Product": 2,
                "Variant": 3,
                "Customer": 3,
                "Order": 3,
                "OrderLine": 5,
                "Tender": 4,
            }
        )
        order = _order(session, "o-1")
        assert order is not None and [line.id for line in order.lines] == line_ids


@pytest.mark.parametrize(
    ("currency", "unit_price", "expected"),
    [("JPY", "15000", 15000), ("KWD", "12.345", 12345), ("EUR", "12.3", 1230), ("EUR", "1 290,50", 129050)],
)
def test_amounts_use_the_exponent_of_the_currency(
    factory: sessionmaker[Session], tmp_path: Path, shop: str, currency: str, unit_price: str, expected: int
) -> None:
    text = ORDERS_HEADER + (
        f'o-9,N-9,kenji@example.com,Kenji,en,,100-0001,JP,{currency},2026-11-01,,,0,1,ANY-SKU,Ring,2,"{unit_price}",'
        f'0,0,card,"{unit_price}"\n'
    )

    report, _ = _import(factory, tmp_path, "orders", text, shop)

    assert report.errors == []
    with factory() as session:
        order = _order(session, "o-9")
        assert order is not None and order.currency == currency
        assert order.lines[0].unit_price_amount == expected
        assert order.tenders[0].amount == expected


@pytest.mark.parametrize(
    ("currency", "unit_price", "message"),
    [
        ("EUR", "12.345", "'12.345' has more decimals than EUR allows (2)"),
        ("JPY", "1500.5", "'1500.5' has more decimals than JPY allows (0)"),
        ("KWD", "1.2345", "'1.2345' has more decimals than KWD allows (3)"),
    ],
)
def test_more_decimals_than_the_currency_has_is_refused(
    factory: sessionmaker[Session], tmp_path: Path, shop: str, currency: str, unit_price: str, message: str
) -> None:
    text = ORDERS_HEADER + (
        f"o-9,N-9,kenji@example.com,Kenji,en,,,JP,{currency},2026-11-01,,,0,1,ANY-SKU,Ring,1,{unit_price},0,0,,\n"
    )

    report, _ = _import(factory, tmp_path, "orders", text, shop)

    assert report.errors == [RowError(2, "unit_price", message)]


def test_a_bad_product_row_leaves_its_product_out(factory: sessionmaker[Session], tmp_path: Path, shop: str) -> None:
    text = PRODUCTS + "ml-ear,Puces Étoile,earrings,,EAR-AG,argent,39.00,EUR,maybe,1,métal=argent\n"
    text += "ml-ear,,,,EAR-OJ,or jaune,149.00,EUR,no,1,métal\n"

    report, _ = _import(factory, tmp_path, "products", text, shop)

    assert report.errors == [
        RowError(5, "final_sale", "'maybe' is not yes/no, true/false or 1/0"),
        RowError(6, "attributes", "'métal' is not key=value (separate several with |)"),
    ]
    assert (report.created, report.failed) == (2, 1)
    with factory() as session:
        assert sorted(session.scalars(select(Product.external_id))) == ["ml-medal", "ml-ring"]


def test_semicolons_and_a_bom_are_read(factory: sessionmaker[Session], tmp_path: Path, shop: str) -> None:
    text = "\ufeff" + PRODUCTS.replace(',"119,00",', ";119,00;").replace(",", ";").replace("119;00", "119,00")

    report, _ = _import(factory, tmp_path, "products", text, shop)

    assert (report.created, report.errors) == (2, [])
    with factory() as session:
        prices = {sku: price for sku, price in session.execute(select(Variant.sku, Variant.price_amount))}
        assert prices["MEDAL-AG"] == 11900


def test_a_file_without_a_required_column_is_refused(factory: sessionmaker[Session], tmp_path: Path, shop: str) -> None:
    text = ORDERS.replace("order_number,", "number,", 1)

    report, output = _import(factory, tmp_path, "orders", text, shop)

    assert report.errors == [RowError(1, "file", "missing column(s): order_number")]
    assert "missing column(s): order_number" in output
    with factory() as session:
        assert _counts(session)["Order"] == 0


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    from retour.settings import get_settings

    monkeypatch.setenv("RETOUR_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    get_settings.cache_clear()
    yield {}
    get_settings.cache_clear()


def test_import_command_end_to_end(cli_env: dict[str, Any], tmp_path: Path) -> None:
    from retour.cli import app

    products, orders = tmp_path / "products.csv", tmp_path / "orders.csv"
    products.write_text(PRODUCTS, encoding="utf-8")
    orders.write_text(ORDERS.replace("lea@example.com", "lea-at-example"), encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(app, ["migrate"]).exit_code == 0
    assert runner.invoke(app, ["create-merchant", "maison-lune", "Maison Lune"]).exit_code == 0

    imported = runner.invoke(app, ["import", "products", str(products), "--shop", "maison-lune"])
    partly = runner.invoke(app, ["import", "orders", str(orders), "--shop", "maison-lune"])
    unknown = runner.invoke(app, ["import", "orders", str(orders), "--shop", "nowhere"])

    assert imported.exit_code == 0, imported.output
    assert "products: 2 imported, 0 updated, 0 failed" in imported.output
    assert partly.exit_code == 1
    assert "'lea-at-example' is not a valid email" in partly.output
    assert "orders: 2 imported, 0 updated, 1 failed" in partly.output
    assert unknown.exit_code == 1 and "no shop with slug 'nowhere'" in unknown.output


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("Inès Haddad", "Inès\x00Haddad", RowError(5, "customer_name", "contains a NUL character (\\x00): remove it from the file")),
        (",1,MEDAL-AG,,1,119.00,0,19.83", ",1,MEDAL-AG,\x00,1,119.00,0,19.83", RowError(5, "title", "contains a NUL character (\\x00): remove it from the file")),
        ("ines@example.com", "ines@exa\x00mple.com", RowError(5, "email", "contains a NUL character (\\x00): remove it from the file")),
        ("Inès Haddad,fr,", "Inès Haddad,fr," + "x" * 1001, RowError(5, "customer_tags", "1001 characters: at most 1000")),
        ("o-3,ML-3,", "o-3,ML-" + "3" * 98 + ",", RowError(5, "order_number", "String should have at most 100 characters")),
        ("Inès Haddad", "I" * 201, RowError(5, "customer_name", "String should have at most 200 characters")),
    ],
)  # fmt: skip
def test_a_nul_character_or_an_over_long_cell_is_refused_before_the_database_sees_it(
    factory: sessionmaker[Session], tmp_path: Path, shop: str, old: str, new: str, expected: RowError
) -> None:
    _import(factory, tmp_path, "products", PRODUCTS, shop)
    assert ORDERS.count(old) == 1

    report, output = _import(factory, tmp_path, "orders", ORDERS.replace(old, new), shop)

    assert report.errors == [expected]
    assert (report.created, report.updated, report.failed) == (2, 0, 1)
    assert expected.field in output
    with factory() as session:
        assert _order(session, "o-3") is None
        assert session.scalar(select(func.count()).select_from(Customer).where(Customer.email.like("ines%"))) == 0
        assert (_counts(session)["Order"], _counts(session)["OrderLine"]) == (2, 4)


def test_a_cell_refused_for_its_nul_is_not_reported_again_by_the_schema(
    factory: sessionmaker[Session], tmp_path: Path, shop: str
) -> None:
    text = ORDERS.replace("ines@example.com", "ines@exa\x00mple.com").replace(
        ",1,MEDAL-AG,,1,119.00,0,19.83", ",1,MEDAL-AG,,0,119.00,0,19.83"
    )

    report, _ = _import(factory, tmp_path, "orders", text, shop)

    assert report.errors == [
        RowError(5, "email", "contains a NUL character (\\x00): remove it from the file"),
        RowError(5, "quantity", "Input should be greater than or equal to 1"),
    ]


def test_a_nul_in_an_ignored_column_changes_nothing(factory: sessionmaker[Session], tmp_path: Path, shop: str) -> None:
    text = PRODUCTS.replace(",inventory_quantity\n", ",inventory_quantity,note\n", 1).replace(
        "or jaune,3\n", "or jaune,3,a\x00b\n"
    )

    report, _ = _import(factory, tmp_path, "products", text, shop)

    assert (report.created, report.failed, report.errors) == (2, 0, [])
    assert report.warnings == ["column(s) ignored: note"]


@pytest.mark.parametrize(
    ("statement", "named"),
    [
        ("SELECT missing_column FROM customer", "missing_column"),
        ("UPDATE \"order\" SET shipping_amount = -1 WHERE external_id = 'o-2'", "ck_order_shipping_not_negative"),
    ],
)
def test_a_refusal_by_the_database_leaves_that_order_out_and_imports_the_others(
    factory: sessionmaker[Session],
    tmp_path: Path,
    shop: str,
    monkeypatch: pytest.MonkeyPatch,
    statement: str,
    named: str,
) -> None:
    """Whatever the database refuses (here after o-2's rows were written in its savepoint, which
    also aborts the transaction on PostgreSQL) costs that one order, never the batch."""
    from sqlalchemy import text as sql

    from retour.order import service as order_service

    real_upsert = order_service.upsert_order

    def upsert_then_fail_for_o2(session: Session, merchant_id: int, data: Any) -> Any:
        result = real_upsert(session, merchant_id, data)
        if data.external_id == "o-2":
            session.flush()
            session.execute(sql(statement))
        return result

    monkeypatch.setattr(order_service, "upsert_order", upsert_then_fail_for_o2)
    _import(factory, tmp_path, "products", PRODUCTS, shop)

    report, output = _import(factory, tmp_path, "orders", ORDERS, shop)

    assert (report.created, report.updated, report.failed) == (2, 0, 1)
    assert len(report.errors) == 1
    error = report.errors[0]
    assert (error.line, error.field) == (3, "row")
    assert error.message.startswith("the database refused this order: ")
    assert named in error.message
    assert "orders: 2 imported, 0 updated, 1 failed" in output
    with factory() as session:
        assert _order(session, "o-2") is None
        assert (
            session.scalar(select(func.count()).select_from(Customer).where(Customer.email == "lea@example.com")) == 0
        )
        assert _counts(session) == {"Product": 2, "Variant": 3, "Customer": 2, "Order": 2, "OrderLine": 3, "Tender": 3}


def test_the_gift_code_is_imported_and_opens_the_portal_for_the_recipient(
    factory: sessionmaker[Session], tmp_path: Path, shop: str
) -> None:
    from retour.portal import service as portal_service
    from retour.portal.schemas import LookupIn

    text = ORDERS.replace("tender_amount\n", "tender_amount,gift_code\n", 1)
    text = text.replace("gift_card,100.00\n", "gift_card,100.00,LUNE-7Q2K\n").replace(
        "card,1122.90\n", "card,1122.90,\n"
    )

    report, _ = _import(factory, tmp_path, "orders", text, shop)

    assert (report.created, report.failed, report.errors) == (3, 0, [])
    with unit_of_work(factory) as session:
        assert [(o.external_id, o.gift_code) for o in session.scalars(select(Order).order_by(Order.external_id))] == [
            ("o-1", "LUNE-7Q2K"),
            ("o-2", None),
            ("o-3", None),
        ]
        merchant_id = session.scalars(select(Order.merchant_id)).first()
        assert merchant_id is not None
        lookup = LookupIn(mode="gift", order_number="ML-1", gift_code="lune 7q2k", recipient_email="amie@example.com")
        found = portal_service.find_order(session, merchant_id, lookup, client_address="203.0.113.9")
        assert found.outcome == "opened"


@pytest.mark.parametrize(
    ("code_1", "code_3", "expected"),
    [
        ("A" * 41, "", RowError(2, "gift_code", "String should have at most 40 characters")),
        ("LUNE-7Q2K", "LUNE-0000", RowError(4, "gift_code", "'LUNE-0000' differs from 'LUNE-7Q2K' on line 2")),
    ],
)
def test_a_bad_gift_code_leaves_its_order_out(
    factory: sessionmaker[Session], tmp_path: Path, shop: str, code_1: str, code_3: str, expected: RowError
) -> None:
    text = ORDERS.replace("tender_amount\n", "tender_amount,gift_code\n", 1)
    text = text.replace("gift_card,100.00\n", f"gift_card,100.00,{code_1}\n").replace(
        "card,1122.90\n", f"card,1122.90,{code_3}\n"
    )

    report, _ = _import(factory, tmp_path, "orders", text, shop)

    assert report.errors == [expected]
    assert (report.created, report.failed) == (2, 1)
    with factory() as session:
        assert _order(session, "o-1") is None


def test_a_data_error_of_postgresql_costs_one_order_only(
    factory: sessionmaker[Session], tmp_path: Path, shop: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real thing behind the check at read time: PostgreSQL refuses a NUL in text (DataError)."""
    if factory.kw["bind"].dialect.name != "postgresql":
        pytest.skip("SQLite stores a NUL character: only PostgreSQL refuses it")
    monkeypatch.setattr(csv_import, "unstorable_cells", lambda rows, columns: [])
    _import(factory, tmp_path, "products", PRODUCTS, shop)

    report, _ = _import(factory, tmp_path, "orders", ORDERS.replace("Inès Haddad", "Inès\x00Haddad"), shop)

    assert report.errors == [
        RowError(5, "row", "the database refused this order: PostgreSQL text fields cannot contain NUL (0x00) bytes")
    ]
    assert (report.created, report.failed) == (2, 1)
    with factory() as session:
        assert _order(session, "o-3") is None
        assert _counts(session) == {"Product": 2, "Variant": 3, "Customer": 2, "Order": 2, "OrderLine": 4, "Tender": 3}


def test_a_line_titled_from_a_long_product_and_variant_title_fits_its_column(
    factory: sessionmaker[Session], tmp_path: Path, shop: str
) -> None:
    """The catalogue allows 300 characters for each title; the line's title made of both is cut
    to its column's 300 (PostgreSQL would refuse the order otherwise)."""
    product_title, variant_title = "Bague " + "L" * 244, "or jaune / 52 " + "V" * 86
    products = PRODUCTS.replace("Bague Croissant de Lune", product_title).replace("or jaune / 52", variant_title)
    _import(factory, tmp_path, "products", products, shop)

    report, _ = _import(factory, tmp_path, "orders", ORDERS, shop)

    assert (report.created, report.failed, report.errors) == (3, 0, [])
    with factory() as session:
        first = _order(session, "o-1")
        assert first is not None
        assert first.lines[0].title == f"{product_title} {variant_title}"[:300]
        assert len(first.lines[0].title) == 300
