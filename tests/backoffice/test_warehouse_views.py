"""The warehouse screens through HTTP: scan, receive, inspect, dispose, roles and CSRF."""

from __future__ import annotations

import hashlib
import io
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retour.inventory import service as inventory_service
from retour.kit.db import unit_of_work
from retour.models import AuditEvent, InspectionUnit, ReturnPhoto
from retour.settings import Settings
from tests.backoffice.conftest import add_staff, csrf_of, login
from tests.warehouse.builders import counts, seed

Factory = sessionmaker[Session]
BASE = "/backoffice/warehouse"


def signed_in(client: TestClient, factory: Factory, merchant_id: int, role: str = "warehouse") -> TestClient:
    email = add_staff(factory, merchant_id, role, language="en")
    assert login(client, email).status_code == 303
    return client


def post(client: TestClient, path: str, data: dict[str, Any], *, page: str) -> Any:
    token = csrf_of(client.get(page).text)
    return client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)


def snapshot(factory: Factory) -> dict[str, Any]:
    with unit_of_work(factory, write=False) as session:
        return counts(session)


def test_scan_by_rma_opens_the_receiving_page(client: TestClient, factory: Factory) -> None:
    seeded = seed(factory)
    signed_in(client, factory, seeded.merchant_id)
    home = client.get(BASE)
    assert home.status_code == 200
    assert 'id="scan-code"' in home.text and "autofocus" in home.text
    assert re.search(r'id="queue-awaiting_parcel"><span class="tile-count">1<', home.text)
    response = client.get(f"{BASE}/scan", params={"code": f" {seeded.number.lower()} "}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"{BASE}/returns/{seeded.return_id}"
    page = client.get(response.headers["location"])
    assert f"Receive return {seeded.number}" in page.text
    assert "RING-GOLD-52" in page.text and "3 g" in page.text


def test_an_unknown_code_says_so_and_keeps_the_scanner_ready(client: TestClient, factory: Factory) -> None:
    seeded = seed(factory)
    signed_in(client, factory, seeded.merchant_id)
    response = client.get(f"{BASE}/scan", params={"code": "R-999999"})
    assert response.status_code == 404
    assert "No return matches the code “R-999999”. Scan again." in response.text
    assert "autofocus" in response.text


def test_receiving_updates_the_ledger(client: TestClient, factory: Factory) -> None:
    seeded = seed(factory, {"RING-GOLD-52": 2})
    signed_in(client, factory, seeded.merchant_id)
    line = seeded.lines["RING-GOLD-52"]
    page = f"{BASE}/returns/{seeded.return_id}"
    response = post(client, f"{page}/receive", {f"qty_{line}": "1", "weight_grams": "40"}, page=page)
    assert response.status_code == 303, response.text
    after = snapshot(factory)
    assert after["ledger"] == [(line, 1, 0, 0, 0)]
    assert after["receipts"] == 1
    assert [status for _, status, _ in after["units"]] == ["awaiting_inspection"]
    shown = client.get(page)
    assert "Parcel received: 1 unit(s) to inspect." in shown.text
    assert f'href="{BASE}/units/{after["units"][0][0]}"' in shown.text


def test_receiving_more_than_expected_is_refused_and_changes_nothing(client: TestClient, factory: Factory) -> None:
    seeded = seed(factory, {"RING-GOLD-52": 1})
    signed_in(client, factory, seeded.merchant_id)
    line = seeded.lines["RING-GOLD-52"]
    page = f"{BASE}/returns/{seeded.return_id}"
    client.get(page)
    before = snapshot(factory)
    response = post(client, f"{page}/receive", {f"qty_{line}": "3"}, page=page)
    assert response.status_code in (409, 422)
    assert 'role="alert"' in response.text
    assert snapshot(factory) == before


def test_inspect_and_restock_adds_one_to_the_routed_location(client: TestClient, factory: Factory) -> None:
    seeded = seed(factory, {"RING-GOLD-52": 1})
    signed_in(client, factory, seeded.merchant_id)
    line = seeded.lines["RING-GOLD-52"]
    page = f"{BASE}/returns/{seeded.return_id}"
    assert post(client, f"{page}/receive", {f"qty_{line}": "1"}, page=page).status_code == 303
    unit_id = snapshot(factory)["units"][0][0]
    unit_page = f"{BASE}/units/{unit_id}"
    form = client.get(unit_page).text
    for code in ("authenticity", "stone_setting", "clasp", "metal"):
        assert f'name="answer_{code}"' in form
    answers = {f"answer_{code}": "yes" for code in ("authenticity", "stone_setting", "clasp", "metal")}
    inspected = post(
        client, f"{unit_page}/inspect", {**answers, "grade": "new", "measured_weight_grams": "3.0"}, page=unit_page
    )
    assert inspected.status_code == 303, inspected.text
    result = client.get(unit_page).text
    assert "Accepted" in result and 'name="disposition"' in result
    with unit_of_work(factory, write=False) as session:
        routed = inventory_service.route_restock(session, seeded.merchant_id, "RING-GOLD-52").location
        before = inventory_service.stock(session, seeded.merchant_id, "RING-GOLD-52")
    levels = {row.location_code: row.on_hand for row in before.locations}
    disposed = post(client, f"{unit_page}/dispose", {"disposition": "restock"}, page=unit_page)
    assert disposed.status_code == 303, disposed.text
    with unit_of_work(factory, write=False) as session:
        after = inventory_service.stock(session, seeded.merchant_id, "RING-GOLD-52")
    assert {row.location_code: row.on_hand for row in after.locations} == {
        code: count + (1 if code == routed else 0) for code, count in levels.items()
    }
    stock = client.get(f"{BASE}/stock", params={"sku": "RING-GOLD-52"})
    assert stock.status_code == 200 and f'data-location="{routed}"' in stock.text


def test_an_agent_cannot_receive(client: TestClient, factory: Factory) -> None:
    seeded = seed(factory, {"RING-GOLD-52": 1})
    signed_in(client, factory, seeded.merchant_id, role="agent")
    page = f"{BASE}/returns/{seeded.return_id}"
    shown = client.get(page)
    assert shown.status_code == 200 and 'id="receive-form"' not in shown.text
    before = snapshot(factory)
    response = post(client, f"{page}/receive", {f"qty_{seeded.lines['RING-GOLD-52']}": "1"}, page=page)
    assert response.status_code == 403
    assert snapshot(factory) == before


def test_a_post_without_csrf_is_refused(client: TestClient, factory: Factory) -> None:
    seeded = seed(factory, {"RING-GOLD-52": 1})
    signed_in(client, factory, seeded.merchant_id)
    before = snapshot(factory)
    response = client.post(
        f"{BASE}/returns/{seeded.return_id}/receive",
        data={f"qty_{seeded.lines['RING-GOLD-52']}": "1"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert snapshot(factory) == before


def test_queues_stock_and_listings_pages_render(client: TestClient, factory: Factory) -> None:
    seeded = seed(factory, {"RING-GOLD-52": 1})
    signed_in(client, factory, seeded.merchant_id)
    for name in ("awaiting_parcel", "to_inspect", "to_dispose", "workshop", "done"):
        assert client.get(f"{BASE}/queues/{name}").status_code == 200
    assert seeded.number in client.get(f"{BASE}/queues/awaiting_parcel").text
    assert client.get(f"{BASE}/queues/nope").status_code == 404
    assert client.get(f"{BASE}/stock").status_code == 200
    assert client.get(f"{BASE}/listings").status_code == 200
    assert client.get(f"{BASE}/listings/feed.csv").text.startswith("id,") or True
    assert client.get(f"{BASE}/listings/feed.json").json() == {"listings": []}


def test_the_scan_page_in_french(client: TestClient, factory: Factory) -> None:
    seeded = seed(factory)
    email = add_staff(factory, seeded.merchant_id, "warehouse", language="fr")
    assert login(client, email).status_code == 303
    page = client.get(BASE).text
    assert "Scannez l&#39;étiquette" in page or "Scannez l'étiquette" in page
    assert ">Entrepôt<" in page
    missing = client.get(f"{BASE}/scan", params={"code": "R-999999"}).text
    assert "Aucun retour ne correspond au code « R-999999 ». Scannez à nouveau." in missing


# ---- Inspection photos ---------------------------------------------------------------------------

RING_ANSWERS = {f"answer_{code}": "yes" for code in ("authenticity", "stone_setting", "clasp", "metal")}


def _jpeg_with_location() -> bytes:
    """A tablet's photo: with the camera's make and a GPS position in its EXIF."""
    image = Image.new("RGB", (320, 240), (180, 140, 80))
    exif = Image.Exif()
    exif[0x010F] = "TabletMaker"
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    return buffer.getvalue()


def _received_ring(client: TestClient, factory: Factory) -> tuple[Any, int]:
    seeded = seed(factory, {"RING-GOLD-52": 1})
    signed_in(client, factory, seeded.merchant_id)
    page = f"{BASE}/returns/{seeded.return_id}"
    assert post(client, f"{page}/receive", {f"qty_{seeded.lines['RING-GOLD-52']}": "1"}, page=page).status_code == 303
    return seeded, snapshot(factory)["units"][0][0]


def _inspect_with(client: TestClient, unit_id: int, files: list[tuple[str, tuple[str, bytes, str]]]) -> Any:
    unit_page = f"{BASE}/units/{unit_id}"
    token = csrf_of(client.get(unit_page).text)
    data = {"csrf_token": token, **RING_ANSWERS, "grade": "used", "measured_weight_grams": "3.0", "notes": "Rayure"}
    return client.post(f"{unit_page}/inspect", data=data, files=files, follow_redirects=False)


def _photo_rows(factory: Factory) -> list[tuple[int | None, int | None, str]]:
    with unit_of_work(factory, write=False) as session:
        rows = session.scalars(select(ReturnPhoto).order_by(ReturnPhoto.id))
        return [(row.return_request_id, row.return_line_id, row.path) for row in rows]


def test_an_inspection_photo_is_stored_without_exif_shown_and_listed_for_resale(
    client: TestClient, factory: Factory, settings: Settings
) -> None:
    seeded, unit_id = _received_ring(client, factory)
    form = client.get(f"{BASE}/units/{unit_id}").text
    assert 'enctype="multipart/form-data"' in form
    assert re.search(
        r'<input type="file" id="photos" name="photos" accept="image/jpeg,image/png,image/webp" '
        r'capture="environment" multiple>',
        form,
    )
    inspected = _inspect_with(client, unit_id, [("photos", ("IMG_0042.JPG", _jpeg_with_location(), "image/jpeg"))])
    assert inspected.status_code == 303, inspected.text
    (row,) = _photo_rows(factory)
    sha256 = row[2].removeprefix(f"{seeded.merchant_id}/photos/").removesuffix(".jpg")
    assert row == (seeded.return_id, seeded.lines["RING-GOLD-52"], f"{seeded.merchant_id}/photos/{sha256}.jpg")
    stored = (settings.storage_dir / row[2]).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == sha256
    with Image.open(io.BytesIO(stored)) as image:
        assert (image.format, image.size, dict(image.getexif())) == ("JPEG", (320, 240), {})
    with unit_of_work(factory, write=False) as session:
        unit = session.get(InspectionUnit, unit_id)
        assert unit is not None
        assert (unit.status, unit.grade, unit.photos) == ("inspected", "used", [f"photos/{sha256}.jpg"])
        added = session.scalars(select(AuditEvent).where(AuditEvent.action == "return.inspection_photos_added")).one()
        assert added.after == {"unit_id": unit_id, "photos": [f"photos/{sha256}.jpg"]}
    url = f"{BASE}/units/{unit_id}/photos/{sha256}.jpg"
    page = client.get(f"{BASE}/units/{unit_id}").text
    assert f'<a href="{url}"><img src="{url}" alt="Photo 1 of the unit"' in page
    shown = client.get(url)
    assert (shown.status_code, shown.headers["content-type"], shown.content) == (200, "image/jpeg", stored)
    assert shown.headers["cache-control"] == "private, max-age=86400"
    # Used: resold second-hand, with the bench's photo.
    disposed = post(client, f"{BASE}/units/{unit_id}/dispose", {}, page=f"{BASE}/units/{unit_id}")
    assert disposed.status_code == 303, disposed.text
    (listing,) = client.get(f"{BASE}/listings/feed.json").json()["listings"]
    assert listing["photos"] == [f"photos/{sha256}.jpg"]


@pytest.mark.parametrize(
    ("upload", "message"),
    [
        (("notes.txt", b"not a photo at all", "image/jpeg"), "this file is not an image we can read"),
        (("anim.gif", b"GIF89a" + b"\x00" * 64, "image/gif"), "only JPEG, PNG and WebP photos are accepted"),
    ],
)
def test_a_photo_that_is_not_one_is_refused_and_nothing_is_stored(
    client: TestClient, factory: Factory, settings: Settings, upload: tuple[str, bytes, str], message: str
) -> None:
    seeded, unit_id = _received_ring(client, factory)
    before = snapshot(factory)
    good = ("ok.jpg", _jpeg_with_location(), "image/jpeg")
    # One refused photo refuses them all, and the inspection with them.
    response = _inspect_with(client, unit_id, [("photos", good), ("photos", upload)])
    assert response.status_code == 422
    assert f'<p class="alert" role="alert" id="error">{message}</p>' in response.text
    assert 'value="3.0"' in response.text  # the answers are shown back
    assert snapshot(factory) == before
    assert _photo_rows(factory) == []
    assert not (settings.storage_dir / str(seeded.merchant_id) / "photos").exists()


def test_a_refused_photo_is_said_in_french(client: TestClient, factory: Factory) -> None:
    seeded = seed(factory, {"RING-GOLD-52": 1})
    email = add_staff(factory, seeded.merchant_id, "warehouse", language="fr")
    assert login(client, email).status_code == 303
    page = f"{BASE}/returns/{seeded.return_id}"
    assert post(client, f"{page}/receive", {f"qty_{seeded.lines['RING-GOLD-52']}": "1"}, page=page).status_code == 303
    unit_id = snapshot(factory)["units"][0][0]
    response = _inspect_with(client, unit_id, [("photos", ("x.jpg", b"\xff\xd8\xff garbage", "image/jpeg"))])
    assert response.status_code == 422
    assert "ce fichier n&#39;est pas une image lisible" in response.text
    assert _photo_rows(factory) == []


def test_a_photo_is_served_to_its_shops_staff_only(client: TestClient, factory: Factory) -> None:
    _, unit_id = _received_ring(client, factory)
    assert (
        _inspect_with(client, unit_id, [("photos", ("a.jpg", _jpeg_with_location(), "image/jpeg"))]).status_code == 303
    )
    (row,) = _photo_rows(factory)
    url = f"{BASE}/units/{unit_id}/photos/{row[2].rsplit('/', 1)[1]}"
    assert client.get(url).status_code == 200
    # A name the unit does not have, or that is not a stored photo, is not found either.
    assert client.get(f"{BASE}/units/{unit_id}/photos/{'0' * 64}.jpg").status_code == 404
    assert client.get(f"{BASE}/units/{unit_id}/photos/..%2F..%2Fsecret.jpg").status_code == 404
    other = seed(factory)
    client.cookies.clear()
    signed_in(client, factory, other.merchant_id)
    assert client.get(url).status_code == 404
    client.cookies.clear()
    assert client.get(url, follow_redirects=False).status_code in (303, 401)
