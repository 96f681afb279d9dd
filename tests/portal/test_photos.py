"""C3/7: photos through the portal. Not an image, too large, or a decompression bomb: refused
with a clear message next to the field, and nothing stored (no row, no file). A good photo is
kept (even if another field is refused), re-encoded without its metadata, and attached to the
return line once the return exists."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import anyio
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.db import unit_of_work
from retour.models import PortalSession, ReturnLine, ReturnPhoto
from retour.photo import rules as photo_rules
from retour.portal import deps
from retour.settings import Settings
from tests.portal.conftest import choose, confirm, csrf, open_order, options


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


TOO_LARGE = (
    "Your photos together are larger than 80 MB. Send fewer at a time (each up to 10 MB):"
    " the photos already added are kept."
)


def _draft(factory: sessionmaker[Session]) -> Any:
    with unit_of_work(factory, write=False) as session:
        return session.scalars(select(PortalSession.draft)).one()


async def _post_raw(app: Any, path: str, headers: dict[str, str], chunks: list[bytes]) -> tuple[int, str, int]:
    """Post ``chunks`` to the app as a server would, and count how many of them it read."""
    pulled = 0
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        if pulled < len(chunks):
            pulled += 1
            return {"type": "http.request", "body": chunks[pulled - 1], "more_body": pulled < len(chunks)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    status_code = next(message["status"] for message in sent if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return status_code, body.decode(), pulled


def test_a_body_declared_larger_than_the_limit_is_refused_before_it_is_read(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session], settings: Settings
) -> None:
    client.headers.update({"Accept-Language": "en"})
    open_order(client, portal_shop)
    before = _draft(factory)
    path = f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}/items"
    cookie = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    chunks = [b"--b\r\n" + b"\x00" * 65536] * 4
    headers = {
        "host": "testserver",
        "cookie": cookie,
        "accept-language": "en",
        "content-type": "multipart/form-data; boundary=b",
        "content-length": str(deps.MAX_PHOTO_FORM_BYTES + 1),
    }
    status_code, text, pulled = anyio.run(_post_raw, client.app, path, headers, chunks)
    assert status_code == 413
    assert pulled == 0  # not one byte of the body read
    assert TOO_LARGE in text
    assert '<div id="photos"><div class="field-error" id="photos-error">' in text
    assert '<li><a href="#photos">' in text  # the summary links to it
    assert _draft(factory) == before
    assert _stored(factory) == []
    assert _files(settings.storage_dir) == []


def test_a_body_without_length_is_refused_once_past_the_limit(
    client: TestClient,
    portal_shop: dict[str, Any],
    factory: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(deps, "MAX_PHOTO_FORM_BYTES", 200_000)
    client.headers.update({"Accept-Language": "en"})
    open_order(client, portal_shop)
    page = client.get(f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}")
    before = _draft(factory)
    ring = portal_shop["lines"][0]
    photo = _jpeg_with_location()
    body = (
        b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
        + csrf(page.text).encode()
        + f'\r\n--b\r\nContent-Disposition: form-data; name="line-{ring}-photos"; filename="a.jpg"\r\n'.encode()
        + b"Content-Type: image/jpeg\r\n\r\n"
        + photo
        + b"\x00" * 300_000
        + b"\r\n--b--\r\n"
    )
    chunks = [body[start : start + 16384] for start in range(0, len(body), 16384)]
    headers = {
        "host": "testserver",
        "cookie": "; ".join(f"{name}={value}" for name, value in client.cookies.items()),
        "content-type": "multipart/form-data; boundary=b",
        "accept-language": "en",
    }
    path = f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}/items"
    status_code, text, pulled = anyio.run(_post_raw, client.app, path, headers, chunks)
    assert status_code == 413
    assert TOO_LARGE in text
    assert pulled == 200_000 // 16384 + 1  # read up to the limit, not one chunk more
    assert _draft(factory) == before
    assert _stored(factory) == []
    assert _files(settings.storage_dir) == []
    # Under the limit, the same form goes through.
    monkeypatch.setattr(deps, "MAX_PHOTO_FORM_BYTES", 2_000_000)
    status_code, text, _ = anyio.run(_post_raw, client.app, path, headers, chunks)
    assert status_code == 422  # quantity and reason missing: the ordinary checks
    assert TOO_LARGE not in text
