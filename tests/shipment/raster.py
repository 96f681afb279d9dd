"""What a scanner sees on a printed label, for the tests: the dark filled rectangles a PDF page
draws (the barcode's bars, the QR code's modules), placed with the page's transformation matrices
and painted with Pillow on a white page. Text is not painted: the symbols are only rectangles.

Decoding that picture with zxing-cpp (an independent reader, shipped as a self-contained wheel)
checks the Code 128 and the QR code end to end, without any rasteriser or system library."""

from __future__ import annotations

from PIL import Image, ImageDraw
from pypdf import PdfReader
from pypdf.generic import ContentStream

Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
FILLS = {b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"}
ENDS_WITHOUT_FILL = {b"S", b"s", b"n"}


def _multiply(m: Matrix, n: Matrix) -> Matrix:
    """``m`` then ``n`` (PDF row-vector convention: ``cm`` makes CTM = M × CTM)."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


def _apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    a, b, c, d, e, f = m
    return a * x + c * y + e, b * x + d * y + f


def _is_dark(operator: bytes, operands: list[object]) -> bool | None:
    values = [float(v) for v in operands]  # type: ignore[arg-type]
    if operator == b"g":
        return values[0] < 0.5
    if operator == b"rg":
        return 0.299 * values[0] + 0.587 * values[1] + 0.114 * values[2] < 0.5
    if operator == b"k":
        return values[3] > 0.5 or min(values[:3]) > 0.5
    return None


def dark_rectangles(reader: PdfReader, page: int = 0) -> list[tuple[float, float, float, float]]:
    """``(x0, y0, x1, y1)`` in page points of every rectangle filled in a dark colour."""
    content = ContentStream(reader.pages[page].get_contents(), reader)
    ctm, stack, pending, dark = IDENTITY, [], [], True
    found: list[tuple[float, float, float, float]] = []
    saved_dark: list[bool] = []
    for operands, operator in content.operations:
        if operator == b"q":
            stack.append(ctm)
            saved_dark.append(dark)
        elif operator == b"Q":
            ctm, dark = stack.pop(), saved_dark.pop()
        elif operator == b"cm":
            ctm = _multiply(tuple(float(v) for v in operands), ctm)  # type: ignore[arg-type]
        elif operator in (b"g", b"rg", b"k"):
            dark = bool(_is_dark(operator, operands))
        elif operator == b"re":
            x, y, w, h = (float(v) for v in operands)
            (x0, y0), (x1, y1) = _apply(ctm, x, y), _apply(ctm, x + w, y + h)
            pending.append((min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)))
        elif operator in FILLS:
            found += pending if dark else []
            pending = []
        elif operator in ENDS_WITHOUT_FILL:
            pending = []
    return found


def page_image(reader: PdfReader, page: int = 0, *, pixels_per_point: float = 4.0) -> Image.Image:
    """The page's dark rectangles painted black on white, top of the page at the top."""
    box = reader.pages[page].mediabox
    width, height = float(box.width), float(box.height)
    image = Image.new("L", (round(width * pixels_per_point), round(height * pixels_per_point)), 255)
    draw = ImageDraw.Draw(image)
    for x0, y0, x1, y1 in dark_rectangles(reader, page):
        draw.rectangle(
            (
                round(x0 * pixels_per_point),
                round((height - y1) * pixels_per_point),
                round(x1 * pixels_per_point) - 1,
                round((height - y0) * pixels_per_point) - 1,
            ),
            fill=0,
        )
    return image
