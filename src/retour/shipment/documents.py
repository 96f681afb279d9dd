"""The return's documents, made locally with reportlab (no system libraries): the 4×6 in shipping
label (RMA number, Code 128 barcode of it, QR code, addresses), the A4 packing slip, and the QR
code as a PNG for the page (drawn with Pillow from reportlab's QR encoder, because reportlab's own
bitmap renderer needs a cairo or C extension that is not installed). French or English.

PDFs are produced with ``invariant=True``: the same data always gives the same bytes."""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from xml.sax.saxutils import escape

from PIL import Image, ImageDraw
from reportlab.graphics import renderPDF
from reportlab.graphics.barcode import qrencoder
from reportlab.graphics.barcode.code128 import Code128
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, inch
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from retour.shipment.rules import Address

LABEL_SIZE = (4 * inch, 6 * inch)
BARCODE_BAR_WIDTH = 1.4  # points per module: about 0.49 mm, read by any handheld scanner
BARCODE_HEIGHT = 58.0
QR_SIZE = 92.0

TEXT = {
    "en": {
        "return": "RETURN",
        "from": "From",
        "to": "To",
        "rma": "Return number",
        "tracking": "Tracking",
        "carrier": "Carrier",
        "method": "Return method",
        "valid_until": "Use before",
        "no_tracking": "no tracking number",
        "slip_title": "Return packing slip",
        "order": "Order",
        "customer": "Customer",
        "date": "Date",
        "sku": "SKU",
        "item": "Item",
        "quantity": "Qty",
        "reason": "Reason",
        "instructions": "What to do",
        "return_to": "Return address",
        "methods": {
            "prepaid_label": "Prepaid label",
            "drop_off": "Drop-off point",
            "in_store": "Return in store",
            "home_pickup": "Home pickup",
            "customer_ships": "Shipped by the customer",
        },
    },
    "fr": {
        "return": "RETOUR",
        "from": "Expéditeur",
        "to": "Destinataire",
        "rma": "N° de retour",
        "tracking": "Suivi",
        "carrier": "Transporteur",
        "method": "Mode de retour",
        "valid_until": "À utiliser avant le",
        "no_tracking": "pas de numéro de suivi",
        "slip_title": "Bordereau de retour",
        "order": "Commande",
        "customer": "Client",
        "date": "Date",
        "sku": "Réf.",
        "item": "Article",
        "quantity": "Qté",
        "reason": "Motif",
        "instructions": "Marche à suivre",
        "return_to": "Adresse de retour",
        "methods": {
            "prepaid_label": "Étiquette prépayée",
            "drop_off": "Point relais",
            "in_store": "Retour en magasin",
            "home_pickup": "Enlèvement à domicile",
            "customer_ships": "Envoi par le client",
        },
    },
}

INSTRUCTIONS = {
    "en": {
        "common_first": "Put the items, with this slip, in a sturdy box (the original one if you still have it).",
        "prepaid_label": "Stick the label on the box, over any old label or barcode, and hand it to the carrier.",
        "drop_off": "Take the parcel to a drop-off point and show the QR code or the label there.",
        "in_store": "Bring the parcel and this slip to the store you chose; the staff scan the return number.",
        "home_pickup": "Stick the label on the box and have the parcel ready on the day and time slot you chose.",
        "customer_ships": "Send the parcel to the return address with a tracked service and keep the receipt. "
        "Write the return number on the box.",
        "common_last": "Follow your return on its status page (the link you kept when you asked for it): "
        "it shows when the parcel arrives and when your return is settled.",
    },
    "fr": {
        "common_first": "Placez les articles, avec ce bordereau, dans un carton solide (l'emballage "
        "d'origine si vous l'avez encore).",
        "prepaid_label": "Collez l'étiquette sur le colis, par-dessus toute ancienne étiquette ou code-barres, "
        "et remettez-le au transporteur.",
        "drop_off": "Déposez le colis dans un point relais et présentez-y le QR code ou l'étiquette.",
        "in_store": "Apportez le colis et ce bordereau au magasin choisi ; le personnel scanne le numéro de retour.",
        "home_pickup": "Collez l'étiquette sur le colis et tenez-le prêt le jour et au créneau choisis.",
        "customer_ships": "Envoyez le colis à l'adresse de retour avec un service suivi et gardez le "
        "justificatif. Inscrivez le numéro de retour sur le carton.",
        "common_last": "Suivez votre retour sur sa page de suivi (le lien gardé lors de votre demande) : "
        "elle indique l'arrivée du colis puis le règlement de votre retour.",
    },
}


@dataclass(frozen=True)
class LabelData:
    """Everything printed on the label. ``qr_payload`` is what the QR code carries."""

    shop_name: str
    rma_number: str
    sender: Address
    recipient: Address
    qr_payload: str
    tracking_number: str | None = None
    carrier: str = "builtin"
    method: str = "prepaid_label"
    expires_on: date | None = None
    language: str = "fr"


@dataclass(frozen=True)
class PackingSlipItem:
    sku: str
    title: str
    quantity: int
    reason: str
    """As printed: the shop's label of the reason in the slip's language (``reason_label``)."""


@dataclass(frozen=True)
class PackingSlipData:
    shop_name: str
    rma_number: str
    order_number: str
    customer_name: str
    created_on: date
    return_address: Address
    method: str = "prepaid_label"
    items: list[PackingSlipItem] = field(default_factory=list)
    language: str = "fr"


def _text(language: str) -> Mapping[str, object]:
    return TEXT["en" if language == "en" else "fr"]


def _label(language: str, key: str) -> str:
    return str(_text(language)[key])


def method_name(method: str, language: str) -> str:
    names = _text(language)["methods"]
    assert isinstance(names, dict)
    return str(names.get(method, method))


def reason_label(code: str, labels: Mapping[str, tuple[str, str]], language: str) -> str:
    """The shop's name for a reason code in the document's language, from ``labels`` (code ->
    English, French); a label missing in that language falls back to the other one, and a reason
    the shop no longer has prints its code."""
    english, french = labels.get(code, ("", ""))
    first, second = (french, english) if language == "fr" else (english, french)
    return first or second or code


def code128(value: str, *, bar_width: float = BARCODE_BAR_WIDTH, height: float = BARCODE_HEIGHT) -> Code128:
    """A Code 128 symbol of ``value`` with its quiet zones (10 modules each side), no text under it."""
    return Code128(
        value,
        barWidth=bar_width,
        barHeight=height,
        humanReadable=False,
        quiet=1,
        lquiet=10 * bar_width,
        rquiet=10 * bar_width,
    )


def _qr_drawing(text: str, size: float) -> Drawing:
    widget = QrCodeWidget(text, barLevel="M", barBorder=2, barWidth=size, barHeight=size)
    drawing = Drawing(size, size)
    drawing.add(widget)
    return drawing


def render_label_pdf(data: LabelData) -> bytes:
    """The 4×6 in shipping label as PDF bytes."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=LABEL_SIZE, invariant=True)
    language = data.language
    canvas.setTitle(f"{_label(language, 'return')} {data.rma_number}")
    canvas.setAuthor(data.shop_name)
    width, height = LABEL_SIZE
    margin = 14.0
    y = height - margin - 12
    canvas.setFont("Helvetica-Bold", 11)
    canvas.drawString(margin, y, _fit(canvas, data.shop_name, "Helvetica-Bold", 11, width * 0.6))
    canvas.setFont("Helvetica-Bold", 14)
    canvas.drawRightString(width - margin, y, _label(language, "return"))
    y -= 8
    canvas.setLineWidth(1.2)
    canvas.line(margin, y, width - margin, y)
    y = _draw_sender(canvas, data, margin, y - 14)
    y = _draw_recipient(canvas, data, margin, y - 10, width - 2 * margin)
    y = _draw_rma(canvas, data, margin, y - 12, width)
    _draw_tracking(canvas, data, margin, width)
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def _fit(canvas: Canvas, text: str, font: str, size: float, max_width: float) -> str:
    """Cut a text that would overflow its box (a long shop or customer name) with an ellipsis."""
    if canvas.stringWidth(text, font, size) <= max_width:
        return text
    while text and canvas.stringWidth(text + "…", font, size) > max_width:
        text = text[:-1]
    return text + "…"


def _caption(canvas: Canvas, text: str, x: float, y: float) -> None:
    canvas.setFillColor(colors.HexColor("#555555"))
    canvas.setFont("Helvetica", 7)
    canvas.drawString(x, y, text.upper())
    canvas.setFillColor(colors.black)


def _draw_sender(canvas: Canvas, data: LabelData, x: float, y: float) -> float:
    _caption(canvas, _label(data.language, "from"), x, y)
    canvas.setFont("Helvetica", 10)
    for line in data.sender.printable_lines():
        y -= 12
        canvas.drawString(x, y, _fit(canvas, line, "Helvetica", 10, 250))
    return y


def _draw_recipient(canvas: Canvas, data: LabelData, x: float, y: float, box_width: float) -> float:
    _caption(canvas, _label(data.language, "to"), x, y)
    lines = data.recipient.printable_lines()
    box_height = 14 + 15 * len(lines)
    top = y - 4
    canvas.setLineWidth(1.5)
    canvas.rect(x, top - box_height, box_width, box_height, stroke=1, fill=0)
    line_y = top - 16
    for index, line in enumerate(lines):
        font, size = ("Helvetica-Bold", 13) if index == 0 else ("Helvetica", 12)
        canvas.setFont(font, size)
        canvas.drawString(x + 8, line_y, _fit(canvas, line, font, size, box_width - 16))
        line_y -= 15
    return top - box_height


def _draw_rma(canvas: Canvas, data: LabelData, margin: float, y: float, width: float) -> float:
    _caption(canvas, _label(data.language, "rma"), margin, y)
    canvas.setFont("Helvetica-Bold", 30)
    y -= 30
    canvas.drawCentredString(width / 2, y, data.rma_number)
    barcode = code128(data.rma_number)
    bar_width = min(barcode.width, width)
    y -= 8 + BARCODE_HEIGHT
    barcode.drawOn(canvas, (width - bar_width) / 2, y)
    return y


def _draw_tracking(canvas: Canvas, data: LabelData, margin: float, width: float) -> None:
    language = data.language
    bottom = margin + 10
    renderPDF.draw(_qr_drawing(data.qr_payload, QR_SIZE), canvas, margin - 4, bottom)
    x = margin + QR_SIZE + 6
    y = bottom + QR_SIZE - 10
    _caption(canvas, _label(language, "tracking"), x, y)
    canvas.setFont("Courier-Bold", 11)
    y -= 13
    canvas.drawString(x, y, data.tracking_number or _label(language, "no_tracking"))
    y -= 18
    _caption(canvas, _label(language, "carrier"), x, y)
    canvas.setFont("Helvetica", 9)
    y -= 11
    canvas.drawString(x, y, f"{data.carrier} · {method_name(data.method, language)}")
    if data.expires_on:
        y -= 16
        _caption(canvas, _label(language, "valid_until"), x, y)
        canvas.setFont("Helvetica", 9)
        y -= 11
        canvas.drawString(x, y, data.expires_on.strftime("%d/%m/%Y" if language == "fr" else "%Y-%m-%d"))
    canvas.setFont("Helvetica", 7)
    canvas.drawCentredString(width / 2, margin - 4, f"{data.shop_name} · {data.rma_number}")


class _BarcodeFlowable(Flowable):  # type: ignore[misc]  # reportlab is untyped
    """A Code 128 symbol placed in a platypus story."""

    def __init__(self, value: str) -> None:
        super().__init__()
        self.barcode = code128(value, height=40)
        self.width = self.barcode.width
        self.height = self.barcode.height

    def draw(self) -> None:
        self.barcode.drawOn(self.canv, 0, 0)


def render_packing_slip_pdf(data: PackingSlipData) -> bytes:
    """The A4 packing slip that goes in the box: RMA (with its barcode), order, items with
    quantities and reasons, the return address and what to do, in the customer's language."""
    language = data.language if data.language in TEXT else "fr"
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"{_label(language, 'slip_title')} {data.rma_number}",
        author=data.shop_name,
        invariant=True,
    )
    styles = getSampleStyleSheet()
    big = ParagraphStyle("rma", parent=styles["Title"], fontSize=26, leading=30, alignment=0)
    story: list[Flowable] = [
        Paragraph(escape(data.shop_name), styles["Heading2"]),
        Paragraph(escape(_label(language, "slip_title")), styles["Heading1"]),
        Paragraph(escape(data.rma_number), big),
        _BarcodeFlowable(data.rma_number),
        Spacer(1, 6 * mm),
        _facts_table(data, language, styles["Normal"]),
        Spacer(1, 6 * mm),
        _items_table(data, language, styles["Normal"]),
        Spacer(1, 6 * mm),
        Paragraph(escape(_label(language, "return_to")), styles["Heading3"]),
        Paragraph("<br/>".join(escape(line) for line in data.return_address.printable_lines()), styles["Normal"]),
        Paragraph(escape(_label(language, "instructions")), styles["Heading3"]),
    ]
    for number, step in enumerate(_instructions(data.method, language), start=1):
        story.append(Paragraph(f"{number}. {escape(step)}", styles["Normal"]))
    document.build(story)
    return buffer.getvalue()


def _instructions(method: str, language: str) -> list[str]:
    steps = INSTRUCTIONS[language]
    return [steps["common_first"], steps.get(method, steps["prepaid_label"]), steps["common_last"]]


def _facts_table(data: PackingSlipData, language: str, style: ParagraphStyle) -> Table:
    created = data.created_on.strftime("%d/%m/%Y" if language == "fr" else "%Y-%m-%d")
    rows = [
        [_label(language, "order"), data.order_number],
        [_label(language, "customer"), data.customer_name],
        [_label(language, "date"), created],
        [_label(language, "method"), method_name(data.method, language)],
    ]
    table = Table(
        [[Paragraph(escape(a), style), Paragraph(escape(b), style)] for a, b in rows], colWidths=[40 * mm, None]
    )
    table.setStyle(TableStyle([("FONTNAME", (0, 0), (0, -1), "Helvetica-Bold"), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _items_table(data: PackingSlipData, language: str, style: ParagraphStyle) -> Table:
    header: list[object] = [_label(language, key) for key in ("sku", "item", "quantity", "reason")]
    rows: list[list[object]] = [header]
    rows += [
        [
            Paragraph(escape(item.sku), style),
            Paragraph(escape(item.title), style),
            str(item.quantity),
            Paragraph(escape(item.reason), style),
        ]
        for item in data.items
    ]
    table = Table(rows, colWidths=[32 * mm, 74 * mm, 14 * mm, 54 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("LINEBELOW", (0, 0), (-1, 0), 1, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.grey),
                ("ALIGN", (2, 0), (2, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def qr_modules(text: str) -> list[list[bool]]:
    """The QR code of ``text`` (error correction M) as rows of dark (True) / light modules."""
    code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
    code.addData(text)
    code.make()
    return [[bool(module) for module in row] for row in code.modules]


def qr_png(text: str, *, scale: int = 8, border: int = 4) -> bytes:
    """The QR code of ``text`` as a black-on-white PNG (``scale`` pixels per module, a quiet zone
    of ``border`` modules), for the drop-off page and emails."""
    modules = qr_modules(text)
    size = (len(modules) + 2 * border) * scale
    image = Image.new("1", (size, size), 1)
    draw = ImageDraw.Draw(image)
    for row_index, row in enumerate(modules):
        for column_index, dark in enumerate(row):
            if dark:
                left = (column_index + border) * scale
                top = (row_index + border) * scale
                draw.rectangle((left, top, left + scale - 1, top + scale - 1), fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
