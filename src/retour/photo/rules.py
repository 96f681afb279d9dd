"""Pure decisions about an uploaded photo: which type its bytes are (never the name or the
client's content type), the limits, the size it is stored at, and the refusal messages in
English and French. No I/O, no imaging library."""

from __future__ import annotations

from dataclasses import dataclass

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 2048
JPEG_QUALITY = 85

ACCEPTED = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "webp": "WEBP"}


@dataclass(frozen=True)
class Refusal:
    """Why a photo is refused: a machine code (the portal's messages are keyed by it) and the
    message in both languages."""

    code: str
    en: str
    fr: str


NOT_AN_IMAGE = Refusal(
    "not_an_image", "this file is not an image we can read", "ce fichier n'est pas une image lisible"
)
UNSUPPORTED_TYPE = Refusal(
    "unsupported_type",
    "only JPEG, PNG and WebP photos are accepted",
    "seules les photos JPEG, PNG et WebP sont acceptées",
)
TOO_LARGE = Refusal(
    "too_large",
    f"the photo is larger than {MAX_BYTES // (1024 * 1024)} MB",
    f"la photo dépasse {MAX_BYTES // (1024 * 1024)} Mo",
)
TOO_MANY_PIXELS = Refusal(
    "too_many_pixels",
    f"the photo has more than {MAX_PIXELS // 1_000_000} million pixels",
    f"la photo dépasse {MAX_PIXELS // 1_000_000} millions de pixels",
)
EMPTY = Refusal("empty", "the file is empty", "le fichier est vide")

# Other image formats, recognised only to say "wrong type" rather than "not an image".
_OTHER_IMAGES = (b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*", b"\x00\x00\x01\x00")


def sniff(data: bytes) -> str | None:
    """``jpeg``, ``png`` or ``webp`` from the file's first bytes, else None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def check_bytes(data: bytes) -> tuple[str | None, Refusal | None]:
    """The detected type, or the refusal, from the raw upload alone (before any decoding)."""
    if not data:
        return None, EMPTY
    if len(data) > MAX_BYTES:
        return None, TOO_LARGE
    kind = sniff(data)
    if kind is None:
        other = data.startswith(_OTHER_IMAGES) or data[4:12] in (b"ftypheic", b"ftypheix", b"ftypavif", b"ftypmif1")
        return None, UNSUPPORTED_TYPE if other else NOT_AN_IMAGE
    return kind, None


def check_dimensions(width: int, height: int) -> Refusal | None:
    if width <= 0 or height <= 0:
        return NOT_AN_IMAGE
    if width * height > MAX_PIXELS:
        return TOO_MANY_PIXELS
    return None


def stored_size(width: int, height: int, max_side: int = MAX_SIDE) -> tuple[int, int]:
    """The size a photo is stored at: the same ratio, no side above ``max_side``, never enlarged."""
    longest = max(width, height)
    if longest <= max_side:
        return width, height
    scale = max_side / longest
    return max(1, round(width * scale)), max(1, round(height * scale))


def stored_name(sha256: str) -> str:
    return f"{sha256}.jpg"
