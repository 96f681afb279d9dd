"""``retour import products|orders FILE --shop SLUG``: bring a shop's catalogue and orders in from CSV.

Both files are UTF-8 (a BOM is fine), comma- or semicolon-separated, with a header line naming
the columns (in any order; unknown columns are ignored with a warning). Lists are separated by
``|``. Amounts are decimals in the currency (``129.00``, ``129,00`` and ``1 290.00`` are read; JPY
has no decimals, KWD three) and are stored in minor units; more decimals than the currency has
is refused, never rounded.

**products**: one row per variant; the rows of a product share ``product_external_id``.

    product_external_id, title, category, tags, sku, variant_title, price, currency, final_sale,
    weight_grams, attributes  [, image_url, variant_external_id, inventory_quantity]

``final_sale`` is yes/no, true/false, 1/0 (blank: no); ``weight_grams`` grams with up to 3 decimals;
``attributes`` like ``size=52|metal=or jaune``; ``currency`` blank means the shop's currency.

**orders**: one row per order line; the rows of an order share ``order_external_id`` (they need
not be next to each other).

    order_external_id, order_number, email, customer_name, language, customer_tags, postal_code,
    country, currency, placed_at, shipped_at, delivered_at, shipping, line_id, sku, title,
    quantity, unit_price, discount, tax, tender_kind, tender_amount
    [, tender_reference, order_tags, gift_code]

Dates are ISO 8601: ``2026-11-02`` (noon UTC that day) or ``2026-11-02T14:30:00+01:00`` (no offset:
UTC). ``unit_price`` is the price of one unit tax included; ``discount`` is the line's share of
every discount (for the whole line); ``tax`` the tax included in what was paid. A row with
``tender_kind`` (card, gift_card, store_credit, other) and ``tender_amount`` adds a payment to its
order. Order columns (number, customer, dates, shipping...) may be left blank on the other rows of
the same order; when given they must agree.

Each product or order goes through the same schema and service as the API
(``ProductIn``/``catalog_service.upsert_product``, ``OrderIn``/``order_service.upsert_order``),
in its own savepoint: a bad row is reported with its line number and column and its whole
product or order is left out (never half an order); everything else is imported. A cell with a
NUL character or longer than ``MAX_CELL`` is refused before anything is written, and whatever the
database itself refuses (a value its column cannot hold) leaves that one product or order out too. Importing the
same file again updates what is there and creates nothing twice.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Literal, TextIO, cast

from pydantic import BaseModel
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from retour.catalog import service as catalog_service
from retour.catalog.schemas import ProductIn
from retour.importer.rows import (
    ORDER_COLUMNS,
    ORDER_OPTIONAL,
    PRODUCT_COLUMNS,
    PRODUCT_OPTIONAL,
    Defaults,
    GroupRefused,
    Row,
    RowError,
    build_order,
    build_product,
)
from retour.kit import clock
from retour.kit.db import unit_of_work
from retour.kit.errors import Conflict, NotFound, RetourError
from retour.merchant import service as merchant_service
from retour.order import service as order_service
from retour.order.schemas import OrderIn

Kind = Literal["products", "orders"]
BATCH = 200
"""Products or orders per transaction (each in its own savepoint inside it)."""
MAX_CELL = 1000
"""The longest cell read (characters); the schema caps most columns far lower (a SKU at 100)."""
_KEYS = {"products": "product_external_id", "orders": "order_external_id"}
_COLUMNS = {"products": (PRODUCT_COLUMNS, PRODUCT_OPTIONAL), "orders": (ORDER_COLUMNS, ORDER_OPTIONAL)}
_SERVICE_FIELDS = {"number": "order_number", "variants.sku": "sku", "lines": "line_id", "slug": "shop"}

__all__ = ["ImportReport", "RowError", "import_rows", "read_rows", "run"]


@dataclass
class ImportReport:
    kind: str
    created: int = 0
    updated: int = 0
    failed: int = 0
    """Products or orders left out (plus rows that belong to none)."""
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class FileRefused(Exception):
    """The file as a whole cannot be read (missing columns, not CSV)."""


def run(factory: sessionmaker[Session], *, kind: str, path: Path, shop: str, console: Console) -> ImportReport:
    """Import the file into the shop, with a progress bar and a summary; the report lists every error."""
    report = ImportReport(kind)
    try:
        if kind not in _KEYS:
            raise FileRefused("kind must be 'products' or 'orders'")
        checked = cast(Kind, kind)
        rows, report.warnings = read_rows(path, kind=checked)
        with unit_of_work(factory, write=False) as session:
            merchant = merchant_service.get_merchant_by_slug(session, shop)
            defaults = Defaults(merchant.default_currency, merchant.default_language)
            merchant_id = merchant.id
    except FileRefused as refused:
        report.errors.append(RowError(1, "file", str(refused)))
    except NotFound:
        report.errors.append(RowError(0, "shop", f"no shop with slug '{shop}'"))
    else:
        for warning in report.warnings:
            console.print(f"[yellow]warning[/yellow]: {warning}")
        groups = group_rows(rows, kind=checked, report=report)
        with _progress(console) as progress:
            task = progress.add_task(kind, total=len(groups))
            import_rows(
                factory,
                kind=checked,
                groups=groups,
                merchant_id=merchant_id,
                defaults=defaults,
                report=report,
                advance=lambda: progress.advance(task),
            )
    _print_summary(console, report)
    return report


def read_rows(path: Path, *, kind: Kind) -> tuple[list[Row], list[str]]:
    """Every data row with its line number; refuses a file that lacks a required column."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            return _read(file, kind)
    except UnicodeDecodeError:
        raise FileRefused("the file is not UTF-8 text") from None
    except csv.Error as error:
        raise FileRefused(f"not a CSV file we can read: {error}") from None


def _read(file: TextIO, kind: Kind) -> tuple[list[Row], list[str]]:
    first_line = file.readline()
    file.seek(0)
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    reader = csv.DictReader(file, delimiter=delimiter)
    header = [name.strip() for name in reader.fieldnames or []]
    reader.fieldnames = header
    required, optional = _COLUMNS[kind]
    missing = [column for column in required if column not in header]
    if missing:
        raise FileRefused(f"missing column(s): {', '.join(missing)}")
    unknown = [column for column in header if column and column not in required and column not in optional]
    warnings = [f"column(s) ignored: {', '.join(unknown)}"] if unknown else []
    rows: list[Row] = []
    line = reader.line_num
    for values in reader:
        if any((value or "").strip() for key, value in values.items() if key is not None and isinstance(value, str)):
            rows.append(Row(line + 1, {key: value for key, value in values.items() if isinstance(value, str)}))
        line = reader.line_num
    return rows, warnings


def group_rows(rows: list[Row], *, kind: Kind, report: ImportReport) -> list[tuple[str, list[Row]]]:
    """The rows of each product or order, in the order they first appear."""
    key_column = _KEYS[kind]
    groups: dict[str, list[Row]] = {}
    for row in rows:
        key = row.get(key_column)
        if not key:
            report.errors.append(RowError(row.line, key_column, "missing: every row needs one"))
            report.failed += 1
            continue
        groups.setdefault(key, []).append(row)
    return list(groups.items())


def import_rows(
    factory: sessionmaker[Session],
    *,
    kind: Kind,
    groups: list[tuple[str, list[Row]]],
    merchant_id: int,
    defaults: Defaults,
    report: ImportReport,
    advance: Callable[[], None] = lambda: None,
) -> None:
    """Validate and upsert each group in its own savepoint, ``BATCH`` groups per transaction."""
    build = build_product if kind == "products" else build_order
    columns = frozenset(_COLUMNS[kind][0] + _COLUMNS[kind][1])
    started = clock.now()
    for batch in _batches(groups):
        with unit_of_work(factory) as session:
            for key, rows in batch:
                try:
                    data = _build(build, key, rows, defaults, columns)
                    with session.begin_nested():
                        created = _upsert(session, merchant_id, data, started=started)
                except GroupRefused as refused:
                    report.errors.extend(refused.errors)
                    report.failed += 1
                except (RetourError, DBAPIError) as error:  # the savepoint is rolled back: nothing stays
                    report.errors.append(_service_error(error, kind, rows))
                    report.failed += 1
                else:
                    report.created += created
                    report.updated += not created
                advance()


def _build(
    build: Callable[[str, list[Row], Defaults], BaseModel],
    key: str,
    rows: list[Row],
    defaults: Defaults,
    columns: frozenset[str],
) -> BaseModel:
    """The group's schema, or every problem of its rows: cells the database could not store, then
    what the schema refuses (a cell is reported once)."""
    unstorable = unstorable_cells(rows, columns)
    try:
        data = build(key, rows, defaults)
    except GroupRefused as refused:
        seen = {(error.line, error.field) for error in unstorable}
        others = [error for error in refused.errors if (error.line, error.field) not in seen]
        raise GroupRefused(sorted(unstorable + others, key=lambda error: error.line)) from None
    if unstorable:
        raise GroupRefused(unstorable)
    return data


def unstorable_cells(rows: list[Row], columns: frozenset[str]) -> list[RowError]:
    """Cells of these columns that no database column should receive: a NUL character (PostgreSQL
    refuses it in text, SQLite would keep it) or text longer than ``MAX_CELL``."""
    errors: list[RowError] = []
    for row in rows:
        for column, value in row.values.items():
            if column not in columns:
                continue
            if "\x00" in value:
                errors.append(RowError(row.line, column, "contains a NUL character (\\x00): remove it from the file"))
            elif len(value.strip()) > MAX_CELL:
                errors.append(RowError(row.line, column, f"{len(value.strip())} characters: at most {MAX_CELL}"))
    return errors


def _upsert(session: Session, merchant_id: int, data: BaseModel, *, started: datetime) -> bool:
    """Whether the product or order was created (rather than updated)."""
    if isinstance(data, OrderIn):
        return order_service.upsert_order(session, merchant_id, data)[1]
    assert isinstance(data, ProductIn)
    product = catalog_service.upsert_product(session, merchant_id, data)
    return clock.as_utc(product.created_at) >= started


def _service_error(error: RetourError | DBAPIError, kind: Kind, rows: list[Row]) -> RowError:
    if isinstance(error, IntegrityError) and _is_unique_violation(error):
        error = _unique_violation(error)
    elif isinstance(error, DBAPIError):
        return _database_error(error, kind, rows)
    column = _SERVICE_FIELDS.get(error.field or "", error.field or "row")
    line = next((row.line for row in rows if row.get(column)), rows[0].line)
    return RowError(line, column, error.detail)


def _database_error(error: DBAPIError, kind: Kind, rows: list[Row]) -> RowError:
    """A refusal only the database saw (a value its column cannot hold): the whole group is left out."""
    detail = (str(error.orig).strip().splitlines() or [type(error.orig).__name__])[0][:200]
    noun = "product" if kind == "products" else "order"
    return RowError(rows[0].line, "row", f"the database refused this {noun}: {detail}")


def _is_unique_violation(error: IntegrityError) -> bool:
    text = str(error.orig).lower()
    return "unique" in text or "duplicate key" in text


def _unique_violation(error: IntegrityError) -> RetourError:
    """A uniqueness the database enforced before the service could say which (autoflush)."""
    text = str(error.orig).lower()
    if "number" in text:
        return Conflict("another order already has this number", field="number")
    if "sku" in text:
        return Conflict("another product already has this SKU", field="variants.sku")
    return Conflict("conflicts with data already in the shop")


def _batches(groups: list[tuple[str, list[Row]]]) -> Iterator[list[tuple[str, list[Row]]]]:
    for start in range(0, len(groups), BATCH):
        yield groups[start : start + BATCH]


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:>8}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    )


def _print_summary(console: Console, report: ImportReport) -> None:
    for error in report.errors:
        if error.line == 0:  # not about a row: the shop
            console.print(f"[red]error[/red] ({error.field}): {error.message}")
    rows = sorted((error for error in report.errors if error.line > 0), key=lambda item: item.line)
    if rows:
        table = Table("line", "column", "reason", title="Not imported", title_justify="left")
        for error in rows:
            table.add_row(str(error.line), error.field, error.message)
        console.print(table)
    colour = "red" if report.errors else "green"
    console.print(
        f"[{colour}]{report.kind}[/{colour}]: {report.created} imported, {report.updated} updated, "
        f"{report.failed} failed"
    )
