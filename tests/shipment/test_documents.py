"""The label PDF: it opens, its text carries the RMA number, its Code 128 barcode decodes to the
RMA number and its QR code carries ``RETOUR;RMA=..;TRK=..``.

How the barcode is decoded: no rasteriser or barcode library is installed, so the test reads the
bars *from the PDF itself* (pypdf parses the page's content stream; each bar is a filled rectangle
of the barcode's height), turns the bar and space widths into modules and decodes them with the
Code 128 table in ``tests/shipment/code128.py`` - written out independently of reportlab, check
symbol verified. What a scanner would see on the printed page is exactly those rectangles.

The QR code (and, as a second opinion, the Code 128) is read by an independent decoder: the page's
dark rectangles are painted with Pillow (``tests/shipment/raster.py``) and decoded by zxing-cpp, a
self-contained wheel of the test extra (no system library)."""

from __future__ import annotations

import io
from datetime import date

import pytest
import zxingcpp
from PIL import Image
from pypdf import PdfReader
from sqlalchemy.orm import Session

from retour.models import Order
from retour.receiving.rules import parse_scan
from retour.shipment import documents, rules
from retour.shipment import service as shipment_service
from retour.shipment.rules import Address
from tests import factories
from tests.shipment import code128, raster
from tests.warehouse.builders import create_return

SHOP = Address("Maison Test", ("12 rue des Lilas",), "69002", "Lyon", "FR")
CUSTOMER = Address("Camille Martin", postal_code="75011", country="FR")


def label(rma: str = "R-000123", *, language: str = "fr", method: str = "prepaid_label") -> bytes:
    tracking = rules.tracking_number(3, rma)
    return documents.render_label_pdf(
        documents.LabelData(
            shop_name="Maison Test",
            rma_number=rma,
            sender=CUSTOMER,
            recipient=SHOP,
            qr_payload=rules.qr_payload(rma, tracking),
            tracking_number=tracking,
            method=method,
            expires_on=date(2030, 1, 31),
            language=language,
        )
    )


@pytest.mark.parametrize("language", ["fr", "en"])
def test_label_opens_and_shows_the_rma_number_the_addresses_and_the_tracking_number(language: str) -> None:
    reader = PdfReader(io.BytesIO(label(language=language)))
    assert len(reader.pages) == 1
    width, height = reader.pages[0].mediabox.width, reader.pages[0].mediabox.height
    assert (round(float(width)), round(float(height))) == (288, 432)  # 4 x 6 in
    text = reader.pages[0].extract_text()
    assert "R-000123" in text
    assert "12 rue des Lilas" in text and "69002 Lyon" in text and "Camille Martin" in text
    assert rules.tracking_number(3, "R-000123") in text
    assert ("N° DE RETOUR" if language == "fr" else "RETURN NUMBER") in text


@pytest.mark.parametrize("rma", ["R-000123", "R-000001", "R-1234567"])
def test_the_label_barcode_decodes_to_the_rma_number(rma: str) -> None:
    reader = PdfReader(io.BytesIO(label(rma)))
    bars = code128.bars_in_pdf(reader, documents.BARCODE_HEIGHT)
    assert code128.decode(code128.modules(bars)) == rma


def test_the_barcode_decoder_refuses_a_damaged_symbol() -> None:
    reader = PdfReader(io.BytesIO(label()))
    widths = code128.modules(code128.bars_in_pdf(reader, documents.BARCODE_HEIGHT))
    damaged = widths[:6] + "222122" + widths[12:]  # one symbol replaced by another valid one
    with pytest.raises(ValueError, match="check"):
        code128.decode(damaged)


def test_same_data_same_pdf_bytes() -> None:
    assert label() == label()


def test_the_qr_payload_is_what_the_warehouse_scanner_reads() -> None:
    tracking = rules.tracking_number(3, "R-000123")
    payload = rules.qr_payload("R-000123", tracking)
    assert payload == f"RETOUR;RMA=R-000123;TRK={tracking}"
    scanned = parse_scan(payload)
    assert (scanned.rma_number, scanned.tracking_number) == ("R-000123", tracking)
    assert rules.parse_qr_payload(payload) == ("R-000123", tracking)
    assert rules.qr_payload("R-000123", None) == "RETOUR;RMA=R-000123"


def test_the_qr_png_draws_the_payload_modules() -> None:
    payload = "RETOUR;RMA=R-000123;TRK=RT000030000123017"
    image = Image.open(io.BytesIO(documents.qr_png(payload, scale=4, border=4)))
    assert image.format == "PNG"
    modules = documents.qr_modules(payload)
    assert image.size == ((len(modules) + 8) * 4,) * 2
    pixels = image.convert("L")
    drawn = [
        [pixels.getpixel(((c + 4) * 4 + 2, (r + 4) * 4 + 2)) == 0 for c in range(len(modules))]
        for r in range(len(modules))
    ]
    assert drawn == modules


def test_packing_slip_lists_the_items_and_the_rma_barcode() -> None:
    pdf = documents.render_packing_slip_pdf(
        documents.PackingSlipData(
            shop_name="Maison Test",
            rma_number="R-000042",
            order_number="#1001",
            customer_name="Camille Martin",
            created_on=date(2030, 1, 2),
            return_address=SHOP,
            method="drop_off",
            items=[documents.PackingSlipItem("RING-GOLD-52", "Bague Lune or 52", 2, "too_small")],
            language="en",
        )
    )
    reader = PdfReader(io.BytesIO(pdf))
    text = reader.pages[0].extract_text()
    for expected in ("R-000042", "#1001", "RING-GOLD-52", "Bague Lune or 52", "too_small", "drop-off point"):
        assert expected in text
    assert code128.decode(code128.modules(code128.bars_in_pdf(reader, 40))) == "R-000042"


def scanned(image: Image.Image) -> set[tuple[str, str]]:
    """``(symbology, text)`` of every barcode zxing-cpp finds in the picture."""
    return {(str(found.format), found.text) for found in zxingcpp.read_barcodes(image)}


@pytest.mark.parametrize("rma", ["R-000123", "R-1234567"])
def test_a_scanner_reads_the_rma_barcode_and_the_qr_payload_on_the_printed_label(rma: str) -> None:
    tracking = rules.tracking_number(3, rma)
    page = raster.page_image(PdfReader(io.BytesIO(label(rma))))
    assert scanned(page) == {
        (str(zxingcpp.BarcodeFormat.Code128), rma),
        (str(zxingcpp.BarcodeFormat.QRCode), f"RETOUR;RMA={rma};TRK={tracking}"),
    }


def test_a_scanner_reads_the_drop_off_qr_png() -> None:
    payload = rules.qr_payload("R-000123", rules.tracking_number(3, "R-000123"))
    image = Image.open(io.BytesIO(documents.qr_png(payload)))
    assert scanned(image) == {(str(zxingcpp.BarcodeFormat.QRCode), payload)}


REASON_LABELS = {"too_small": ("Too small", "Trop petit"), "damaged": ("Arrived damaged", "")}


def test_reason_labels_in_the_documents_language() -> None:
    assert documents.reason_label("too_small", REASON_LABELS, "fr") == "Trop petit"
    assert documents.reason_label("too_small", REASON_LABELS, "en") == "Too small"
    assert documents.reason_label("damaged", REASON_LABELS, "fr") == "Arrived damaged"  # no French label
    assert documents.reason_label("retired_reason", REASON_LABELS, "en") == "retired_reason"


@pytest.mark.parametrize(
    ("language", "expected", "absent"),
    [
        ("fr", ["Bordereau de retour", "Motif", "Trop petit", "Suivez votre retour sur sa page de suivi"], "Too small"),
        ("en", ["Return packing slip", "Reason", "Too small", "Follow your return on its status page"], "Trop petit"),
    ],
)
def test_the_packing_slip_prints_the_reason_label_in_its_language_and_promises_no_email(
    language: str, expected: list[str], absent: str
) -> None:
    pdf = documents.render_packing_slip_pdf(
        documents.PackingSlipData(
            shop_name="Maison Test",
            rma_number="R-000042",
            order_number="#1001",
            customer_name="Camille Martin",
            created_on=date(2030, 1, 2),
            return_address=SHOP,
            items=[
                documents.PackingSlipItem(
                    "RING-GOLD-52", "Bague Lune or 52", 1, documents.reason_label("too_small", REASON_LABELS, language)
                )
            ],
            language=language,
        )
    )
    text = " ".join(PdfReader(io.BytesIO(pdf)).pages[0].extract_text().split())
    for sentence in expected:
        assert sentence in text
    assert absent not in text and "too_small" not in text
    assert "mail" not in text.lower()


@pytest.mark.parametrize(
    ("order_language", "title", "reason"),
    [("fr", "Bordereau de retour", "Trop petit"), ("en", "Return packing slip", "Too small")],
)
def test_a_slip_asked_without_a_language_speaks_the_orders(
    session: Session, order_language: str, title: str, reason: str
) -> None:
    merchant = factories.merchant(session)
    request = create_return(session, merchant.id, {"RING-GOLD-52": 1})
    session.get_one(Order, request.order_id).language = order_language
    text = " ".join(
        PdfReader(io.BytesIO(shipment_service.render_packing_slip_pdf(session, merchant.id, request)))
        .pages[0]
        .extract_text()
        .split()
    )
    assert title in text and reason in text
    assert "too_small" not in text
    asked = shipment_service.render_packing_slip_pdf(
        session, merchant.id, request, language="en" if order_language == "fr" else "fr"
    )
    assert title not in " ".join(PdfReader(io.BytesIO(asked)).pages[0].extract_text().split())
