"""Photo uploads: only real JPEG/PNG/WebP within the limits are kept, re-encoded upright as a
JPEG without metadata; anything else is refused with a clear code and leaves nothing stored."""

from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retour.kit.errors import InvalidInput, NotFound
from retour.models import ReturnPhoto
from retour.photo import rules
from retour.photo import service as photo_service
from tests import factories
from tests.warehouse.builders import create_return

TOKEN = "draft-token"


def encoded(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **params)
    return buffer.getvalue()


def jpeg_with_gps_and_orientation() -> bytes:
    """A 300x200 photo whose EXIF says 'rotate 90°' and carries a GPS position and a camera."""
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "N",
        ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (2.0, 21.0, 7.0),
    }
    return encoded(Image.new("RGB", (300, 200), (200, 30, 30)), "JPEG", exif=exif)


def png_of_size(width: int, height: int) -> bytes:
    """A valid one-colour 1-bit PNG of any size, built chunk by chunk (a 20000x20000 one is a few
    kB: the decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row * 1000) for _ in range(height // 1000))
    body += compressor.compress(row * (height % 1000)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def store(session: Session, merchant_id: int, storage: Path, data: bytes, filename: str = "photo.jpg") -> ReturnPhoto:
    return photo_service.store_photo(
        session,
        merchant_id,
        data=data,
        filename=filename,
        content_type="image/jpeg",
        upload_token=TOKEN,
        storage_dir=storage,
    )


@pytest.fixture
def merchant_id(session: Session) -> int:
    return factories.merchant(session).id


def files_under(storage: Path) -> list[Path]:
    return [p for p in storage.rglob("*") if p.is_file()] if storage.exists() else []


def test_jpeg_is_stored_upright_without_exif_or_location(session: Session, merchant_id: int, tmp_path: Path) -> None:
    original = jpeg_with_gps_and_orientation()
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the input has a position
    photo = store(session, merchant_id, tmp_path, original)
    path = tmp_path / photo.path
    assert photo.path == f"{merchant_id}/photos/{photo.sha256}.jpg" and path.is_file()
    data = path.read_bytes()
    stored = Image.open(io.BytesIO(data))
    assert stored.format == "JPEG"
    assert dict(stored.getexif()) == {}
    assert "exif" not in stored.info and "icc_profile" not in stored.info
    assert b"Exif" not in data and b"PhoneMaker" not in data
    assert stored.size == (200, 300) == (photo.width, photo.height)  # turned upright
    assert (photo.size_bytes, photo.content_type, photo.original_content_type) == (
        len(data),
        "image/jpeg",
        "image/jpeg",
    )
    assert photo.upload_token == TOKEN and photo.return_request_id is None


@pytest.mark.parametrize(
    ("fmt", "mode", "content_type"),
    [("PNG", "RGBA", "image/png"), ("PNG", "P", "image/png"), ("WEBP", "RGB", "image/webp")],
)
def test_png_and_webp_are_accepted_and_stored_as_jpeg(
    session: Session, merchant_id: int, tmp_path: Path, fmt: str, mode: str, content_type: str
) -> None:
    photo = store(session, merchant_id, tmp_path, encoded(Image.new(mode, (120, 80)), fmt), filename=f"x.{fmt.lower()}")
    assert Image.open(tmp_path / photo.path).format == "JPEG"
    assert (photo.width, photo.height, photo.original_content_type) == (120, 80, content_type)


def test_big_photos_are_downscaled_to_2048_px(session: Session, merchant_id: int, tmp_path: Path) -> None:
    photo = store(session, merchant_id, tmp_path, encoded(Image.new("RGB", (4000, 3000), (0, 90, 0)), "JPEG"))
    assert (photo.width, photo.height) == (2048, 1536)
    assert Image.open(tmp_path / photo.path).size == (2048, 1536)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"this is a text file renamed photo.jpg\n" * 10, "not_an_image"),
        (b"", "empty"),
        (b"\xff\xd8\xff" + os.urandom(11 * 1024 * 1024), "too_large"),
        (b"\xff\xd8\xff\xe0 truncated jpeg", "not_an_image"),
        (b"GIF89a" + b"\x00" * 100, "unsupported_type"),
        (png_of_size(30000, 30000), "too_many_pixels"),  # 900 Mpx bomb in a few kB
        (png_of_size(20000, 20000), "too_many_pixels"),  # 400 Mpx bomb: Pillow's own guard
        (png_of_size(10000, 10000), "too_many_pixels"),  # 100 Mpx: where Pillow only warns
        (png_of_size(8000, 6000), "too_many_pixels"),  # 48 Mpx: over our 40 Mpx limit
    ],
    ids=["text-named-jpg", "empty", "11MB", "broken-jpeg", "gif", "bomb-900Mpx", "bomb-400Mpx", "100Mpx", "48Mpx"],
)
def test_refused_uploads_store_nothing(
    session: Session, merchant_id: int, tmp_path: Path, data: bytes, code: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        store(session, merchant_id, tmp_path, data)
    assert (caught.value.field, caught.value.code) == ("photos", code)
    assert caught.value.detail and caught.value.extra["message_fr"]
    assert files_under(tmp_path) == []
    assert session.scalar(select(func.count()).select_from(ReturnPhoto)) == 0


def test_the_bomb_is_small_on_disk() -> None:
    assert len(png_of_size(20000, 20000)) < 200_000
    assert rules.check_dimensions(20000, 20000) == rules.TOO_MANY_PIXELS
    assert rules.stored_size(1000, 500) == (1000, 500)


def test_photos_are_attached_to_the_return_line(session: Session, merchant_id: int, tmp_path: Path) -> None:
    request = create_return(session, merchant_id, {"RING-GOLD-52": 1})
    mine = store(session, merchant_id, tmp_path, encoded(Image.new("RGB", (50, 50)), "PNG"))
    other = photo_service.store_photo(
        session,
        merchant_id,
        data=encoded(Image.new("RGB", (60, 50)), "PNG"),
        filename="y.png",
        content_type="image/png",
        upload_token="someone-else",
        storage_dir=tmp_path,
    )
    line = request.lines[0]
    photo_service.attach_photos(
        session,
        merchant_id,
        upload_token=TOKEN,
        photo_ids=[mine.id, other.id],
        return_request_id=request.id,
        return_line_id=line.id,
    )
    session.flush()
    assert [p.id for p in photo_service.photos_of_return(session, merchant_id, request.id)] == [mine.id]
    assert (mine.return_line_id, other.return_request_id) == (line.id, None)


def test_a_photo_can_be_stored_straight_on_a_return_line(session: Session, merchant_id: int, tmp_path: Path) -> None:
    request = create_return(session, merchant_id, {"RING-GOLD-52": 1})
    line = request.lines[0]
    photo = photo_service.store_photo(
        session,
        merchant_id,
        data=encoded(Image.new("RGB", (80, 60)), "WEBP"),
        return_request_id=request.id,
        return_line_id=line.id,
        storage_dir=tmp_path,
    )
    assert (photo.upload_token, photo.return_request_id, photo.return_line_id) == (None, request.id, line.id)
    assert photo.original_content_type == "image/webp"
    assert photo_service.photos_of_return(session, merchant_id, request.id) == [photo]


def test_a_photo_for_another_shops_return_is_refused_and_not_stored(
    session: Session, merchant_id: int, tmp_path: Path
) -> None:
    request = create_return(session, merchant_id, {"RING-GOLD-52": 1})
    intruder = factories.merchant(session).id
    data = encoded(Image.new("RGB", (80, 60)), "PNG")
    with pytest.raises(NotFound):
        photo_service.store_photo(session, intruder, data=data, return_request_id=request.id, storage_dir=tmp_path)
    with pytest.raises(NotFound):
        photo_service.store_photo(
            session, merchant_id, data=data, return_request_id=request.id, return_line_id=-1, storage_dir=tmp_path
        )
    assert files_under(tmp_path) == []
    assert session.scalar(select(func.count()).select_from(ReturnPhoto)) == 0
