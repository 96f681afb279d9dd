"""C3/7: photos through the portal. Not an image, too large, or a decompression bomb: refused
with a clear message next to the field, and nothing stored (no row, no file). A good photo is
kept (even if another field is refused), re-encoded without its metadata, and attached to the
return line once the return exists."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.db import unit_of_work
from retour.models import ReturnLine, ReturnPhoto
from retour.photo import rules as photo_rules
from retour.settings import Settings
from tests.portal.conftest import choose, confirm, open_order, options


def _jpeg_with_location() -> bytes:
    image = Image.new("RGB", (320, 240), (180, 140, 80))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # camera make
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}  # GPS latitude
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def _bomb() -> bytes:
    """A tiny PNG that would decode to more pixels than allowed."""
    side = int((photo_rules.MAX_PIXELS + 1) ** 0.5) + 1
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def _stored(factory: sessionmaker[Session]) -> list[ReturnPhoto]:
    with unit_of_work(factory, write=False) as session:
        return list(session.scalars(select(ReturnPhoto)))


def _files(storage: Path) -> list[Path]:
    return [path for path in storage.rglob("*") if path.is_file() and "photos" in path.parts]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("notes.jpg", b"this is not a picture", "notes.jpg is not a photo we can read."),
        ("anim.gif", b"GIF89a" + b"\x00" * 64, "anim.gif is not a JPEG, PNG or WebP photo."),
        ("huge.jpg", b"\xff\xd8\xff" + b"\x00" * (photo_rules.MAX_BYTES + 10), "huge.jpg is larger than 10 MB."),
        ("bomb.png", None, "bomb.png has more than 40 million pixels."),
    ],
)
def test_refused_uploads_store_nothing(
    client: TestClient,
    portal_shop: dict[str, Any],
    factory: sessionmaker[Session],
    settings: Settings,
    name: str,
    content: bytes | None,
    message: str,
) -> None:
    client.headers.update({"Accept-Language": "en"})
    open_order(client, portal_shop)
    ring = portal_shop["lines"][0]
    refused = choose(
        client,
        portal_shop,
        {ring: {"quantity": "1", "reason": "damaged"}},
        files=[(f"line-{ring}-photos", (name, content if content is not None else _bomb(), "image/jpeg"))],
    )
    assert refused.status_code == 422
    assert message in refused.text
    assert f'id="line-{ring}-photos-error"' in refused.text
    assert _stored(factory) == []
    assert _files(settings.storage_dir) == []


def test_a_good_photo_is_cleaned_kept_and_attached(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session], settings: Settings
) -> None:
    client.headers.update({"Accept-Language": "en"})
    open_order(client, portal_shop)
    ring, necklace = portal_shop["lines"]
    # The photo passes, the necklace has no reason: the page is refused but the photo is kept.
    first = choose(
        client,
        portal_shop,
        {ring: {"quantity": "1", "reason": "damaged"}, necklace: {"quantity": "1"}},
        files=[(f"line-{ring}-photos", ("IMG_0042.jpg", _jpeg_with_location(), "image/jpeg"))],
    )
    assert first.status_code == 422
    assert "1 photo(s) added." in first.text
    second = choose(client, portal_shop, {ring: {"quantity": "1", "reason": "damaged"}, necklace: {"quantity": "0"}})
    assert second.url.path.endswith("/options")
    options(client, portal_shop, resolution="refund", method="prepaid_label")
    confirm(client, portal_shop)
    [photo] = _stored(factory)
    with unit_of_work(factory, write=False) as session:
        [line] = session.scalars(select(ReturnLine)).all()
    assert (photo.return_request_id, photo.return_line_id) == (line.return_request_id, line.id)
    [path] = _files(settings.storage_dir)
    assert path.parts[-3] == str(portal_shop["id"])  # under the shop's storage
    with Image.open(path) as stored:
        assert stored.format == "JPEG"
        assert not stored.getexif()
