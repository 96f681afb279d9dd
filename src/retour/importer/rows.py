"""From the CSV rows of one product or one order to the API's own schema (``ProductIn``,
``OrderIn``), or to the list of what is wrong, each with its CSV line number and column."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from retour.catalog.schemas import ProductIn
from retour.importer import fields
from retour.importer.fields import FieldError
from retour.order.schemas import OrderIn

PRODUCT_COLUMNS = (
    "product_external_id",
    "title",
    "category",
    "tags",
    "sku",
    "variant_title",
    "price",
    "currency",
    "final_sale",
    "weight_grams",
    "attributes",
)
PRODUCT_OPTIONAL = ("image_url", "variant_external_id", "inventory_quantity")
ORDER_COLUMNS = (
    "order_external_id",
    "order_number",
    "email",
    "customer_name",
    "language",
    "customer_tags",
    "postal_code",
    "country",
    "currency",
    "placed_at",
    "shipped_at",
    "delivered_at",
    "shipping",
    "line_id",
    "sku",
    "title",
    "quantity",
    "unit_price",
    "discount",
    "tax",
    "tender_kind",
    "tender_amount",
)
ORDER_OPTIONAL = ("tender_reference", "order_tags", "gift_code")

# Columns that describe the whole product or order: the same on every row (or left blank).
_PRODUCT_HEADER = ("title", "category", "tags", "currency", "image_url")
_ORDER_HEADER = (
    "order_number",
    "email",
    "customer_name",
    "language",
    "customer_tags",
    "postal_code",
    "country",
    "currency",
    "placed_at",
    "shipped_at",
    "delivered_at",
    "shipping",
    "order_tags",
    "gift_code",
)


@dataclass(frozen=True)
class Row:
    line: int
    """Line number in the file (the header is line 1)."""
    values: dict[str, str]

    def get(self, column: str) -> str:
        return (self.values.get(column) or "").strip()


@dataclass(frozen=True)
class RowError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


class GroupRefused(Exception):
    """What is wrong with the rows of one product or order."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(str(error) for error in errors))
        self.errors = errors


@dataclass(frozen=True)
class Defaults:
    currency: str
    language: str


Model = TypeVar("Model", bound=BaseModel)


class _Collector:
    def __init__(self) -> None:
        self.errors: list[RowError] = []

    def read(self, row: Row, column: str, parse: Callable[[str], Any], default: Any = None) -> Any:
        try:
            return parse(row.get(column))
        except FieldError as error:
            self.errors.append(RowError(row.line, column, str(error)))
            return default


def _header(rows: list[Row], columns: tuple[str, ...], errors: list[RowError]) -> dict[str, str]:
    """The group's header values: from the first row that fills each column; a later row that
    says something else is an error."""
    header: dict[str, str] = {}
    first_line: dict[str, int] = {}
    for row in rows:
        for column in columns:
            value = row.get(column)
            if not value:
                continue
            if column not in header:
                header[column], first_line[column] = value, row.line
            elif value != header[column]:
                errors.append(
                    RowError(
                        row.line, column, f"'{value}' differs from '{header[column]}' on line {first_line[column]}"
                    )
                )
    return header


def _duplicates(rows: list[Row], column: str, errors: list[RowError]) -> None:
    seen: dict[str, int] = {}
    for row in rows:
        value = row.get(column)
        if value and value in seen:
            errors.append(RowError(row.line, column, f"'{value}' already appears on line {seen[value]}"))
        seen.setdefault(value, row.line)


def build_product(key: str, rows: list[Row], defaults: Defaults) -> ProductIn:
    errors: list[RowError] = []
    header = _header(rows, _PRODUCT_HEADER, errors)
    _duplicates(rows, "sku", errors)
    collect = _Collector()
    first = Row(rows[0].line, header)
    currency = collect.read(first, "currency", lambda text: fields.currency(text or defaults.currency))
    variants = []
    for row in rows:
        variant: dict[str, Any] = {
            "sku": row.get("sku"),
            "title": row.get("variant_title"),
            "is_final_sale": collect.read(row, "final_sale", fields.boolean, False),
            "weight_grams": row.get("weight_grams").replace(",", ".") or None,  # VariantIn checks: 3 decimals
            "attributes": collect.read(row, "attributes", fields.attributes, {}),
        }
        if currency:
            variant["price_amount"] = collect.read(row, "price", lambda text: fields.amount(text, currency), 0)
        if row.get("variant_external_id"):
            variant["external_id"] = row.get("variant_external_id")
        if row.get("inventory_quantity"):
            variant["inventory_quantity"] = collect.read(row, "inventory_quantity", fields.whole_number)
        variants.append(variant)
    raw = {
        "external_id": key,
        "title": header.get("title", ""),
        "category": header.get("category", ""),
        "tags": fields.items(header.get("tags", "")),
        "image_url": header.get("image_url") or None,
        "currency": currency or defaults.currency,
        "variants": variants,
    }
    found = _at_header_lines(collect.errors, rows, first.line, _PRODUCT_HEADER)
    return _validate(
        ProductIn, raw, errors + found, _PRODUCT_FIELDS, {"variants": rows}, _header_lines(rows, _PRODUCT_HEADER)
    )


def build_order(key: str, rows: list[Row], defaults: Defaults) -> OrderIn:
    errors: list[RowError] = []
    header = _header(rows, _ORDER_HEADER, errors)
    _duplicates(rows, "line_id", errors)
    collect = _Collector()
    first = Row(rows[0].line, header)
    currency = collect.read(first, "currency", lambda text: fields.currency(text or defaults.currency))
    lines, tenders, tender_rows = [], [], []
    for row in rows:
        line: dict[str, Any] = {
            "external_id": row.get("line_id"),
            "sku": row.get("sku"),
            "title": row.get("title"),
            "quantity": collect.read(row, "quantity", fields.whole_number, 0),
        }
        if currency:
            line["unit_price_amount"] = collect.read(row, "unit_price", lambda text: fields.amount(text, currency), 0)
            line["discount_amount"] = collect.read(row, "discount", lambda t: fields.optional_amount(t, currency), 0)
            line["tax_amount"] = collect.read(row, "tax", lambda text: fields.optional_amount(text, currency), 0)
        lines.append(line)
        if row.get("tender_kind") or row.get("tender_amount"):
            tender = {"kind": row.get("tender_kind"), "reference": row.get("tender_reference") or None}
            if currency:
                tender["amount"] = collect.read(row, "tender_amount", lambda text: fields.amount(text, currency), 0)
            tenders.append(tender)
            tender_rows.append(row)
    raw = {
        "external_id": key,
        "number": header.get("order_number", ""),
        "currency": currency or defaults.currency,
        "customer": {
            "email": header.get("email", ""),
            "name": header.get("customer_name", ""),
            "language": header.get("language") or defaults.language,
            "tags": fields.items(header.get("customer_tags", "")),
        },
        "shipping_address": {"postal_code": header.get("postal_code", ""), "country": header.get("country") or "FR"},
        "placed_at": collect.read(first, "placed_at", fields.moment),
        "shipped_at": collect.read(first, "shipped_at", fields.optional_moment),
        "delivered_at": collect.read(first, "delivered_at", fields.optional_moment),
        "shipping_amount": collect.read(first, "shipping", lambda text: fields.optional_amount(text, currency), 0)
        if currency
        else 0,
        "tags": fields.items(header.get("order_tags", "")),
        "gift_code": header.get("gift_code") or None,
        "lines": lines,
        "tenders": tenders,
    }
    found = _at_header_lines(collect.errors, rows, first.line, _ORDER_HEADER)
    return _validate(
        OrderIn,
        raw,
        errors + found,
        _ORDER_FIELDS,
        {"lines": rows, "tenders": tender_rows},
        _header_lines(rows, _ORDER_HEADER),
    )


def _header_lines(rows: list[Row], columns: tuple[str, ...]) -> dict[str, int]:
    """A header column is reported on the line that gave its value (the group's first line if none did)."""
    return {column: next((row.line for row in rows if row.get(column)), rows[0].line) for column in columns}


def _at_header_lines(
    errors: list[RowError], rows: list[Row], first_line: int, columns: tuple[str, ...]
) -> list[RowError]:
    lines = _header_lines(rows, columns)
    return [
        RowError(lines[error.field], error.field, error.message)
        if error.line == first_line and error.field in lines
        else error
        for error in errors
    ]


# Where each schema field comes from in the CSV.
_PRODUCT_FIELDS = {
    "external_id": "product_external_id",
    "title": "title",
    "category": "category",
    "tags": "tags",
    "image_url": "image_url",
    "currency": "currency",
    "variants": "sku",
    "variants.sku": "sku",
    "variants.external_id": "variant_external_id",
    "variants.title": "variant_title",
    "variants.price_amount": "price",
    "variants.is_final_sale": "final_sale",
    "variants.weight_grams": "weight_grams",
    "variants.inventory_quantity": "inventory_quantity",
    "variants.attributes": "attributes",
}
_ORDER_FIELDS = {
    "external_id": "order_external_id",
    "number": "order_number",
    "currency": "currency",
    "customer.email": "email",
    "customer.name": "customer_name",
    "customer.language": "language",
    "customer.tags": "customer_tags",
    "shipping_address.postal_code": "postal_code",
    "shipping_address.country": "country",
    "placed_at": "placed_at",
    "shipped_at": "shipped_at",
    "delivered_at": "delivered_at",
    "shipping_amount": "shipping",
    "tags": "order_tags",
    "gift_code": "gift_code",
    "lines": "line_id",
    "lines.external_id": "line_id",
    "lines.sku": "sku",
    "lines.title": "title",
    "lines.quantity": "quantity",
    "lines.unit_price_amount": "unit_price",
    "lines.discount_amount": "discount",
    "lines.tax_amount": "tax",
    "tenders.kind": "tender_kind",
    "tenders.amount": "tender_amount",
    "tenders.reference": "tender_reference",
}


def _validate(
    schema: type[Model],
    raw: dict[str, Any],
    errors: list[RowError],
    columns: dict[str, str],
    row_lists: dict[str, list[Row]],
    header_lines: dict[str, int],
) -> Model:
    """Validate with the API's schema; map each complaint back to a CSV line and column.
    Cells that could not be read are reported once, not a second time by the schema."""
    try:
        model = schema.model_validate(raw)
    except ValidationError as error:
        reported = {(item.line, item.field) for item in errors}
        unread_lines = {item.line for item in errors}
        for item in error.errors():
            mapped, across_fields = _locate(item, row_lists, columns, header_lines)
            # An unreadable cell was left out or set to 0: say so once, not again as "required"
            # or as "the discount exceeds the price".
            derived = item["type"] == "missing" or (across_fields and mapped.line in unread_lines)
            if not derived and (mapped.line, mapped.field) not in reported:
                errors.append(mapped)
                reported.add((mapped.line, mapped.field))
    if errors:
        raise GroupRefused(sorted(errors, key=lambda e: e.line))
    return model


def _locate(
    item: Any, row_lists: dict[str, list[Row]], columns: dict[str, str], header_lines: dict[str, int]
) -> tuple[RowError, bool]:
    """The CSV line and column of a schema complaint, and whether it is a check across fields."""
    location = list(item["loc"])
    line: int | None = None
    if len(location) >= 2 and isinstance(location[1], int) and location[0] in row_lists:
        line = row_lists[str(location[0])][location[1]].line
    name = ".".join(part for part in location if isinstance(part, str))
    message = str(item["msg"]).removeprefix("Value error, ")
    across_fields = not (name in columns and name not in row_lists)
    if not across_fields:
        column = columns[name]
        if item["type"] == "string_pattern_mismatch":
            message = f"'{item['input']}' is not a valid {column.replace('_', ' ')}"
    else:  # a check across fields (of the order, or of one line): name the first field it mentions
        leaves = {key.rsplit(".", 1)[-1]: column for key, column in columns.items() if key.startswith(f"{name}.")}
        if not name:
            leaves = {key: column for key, column in columns.items() if "." not in key}
        mentioned = [leaves[word] for word in re.findall(r"[a-z_]+", message) if word in leaves]
        column = mentioned[0] if mentioned else columns.get(name, "row")
        if name:  # "discount_amount cannot exceed..." → "discount cannot exceed..."
            for leaf, replacement in leaves.items():
                message = re.sub(rf"\b{re.escape(leaf)}\b", replacement, message)
    if line is None:
        line = header_lines.get(column, min(header_lines.values()))
    return RowError(line, column, message), across_fields
