"""The warehouse bench in Chromium on a tablet (768×1024): scan a return's label code, receive the
parcel, inspect a ring with the jewelry checklist, restock it where routing says and see the stock
change; then a lightly damaged ring goes on sale second-hand and shows in the listings."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Engine

from retour.inventory import service as inventory_service
from retour.kit.db import make_session_factory, unit_of_work
from tests.backoffice.conftest import add_staff
from tests.browser.conftest import new_page, screenshot
from tests.factories import STAFF_PASSWORD
from tests.warehouse.builders import add_shipment, seed

JEWELRY_CHECKS = ("Matches the sale record", "Stones firmly set", "Clasp closes and holds", "Metal free of scratches")


def inspect_ring(page: Any, grade: str, weight: str) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name="Inspection")).to_be_visible()
    for question in JEWELRY_CHECKS:
        group = page.get_by_role("group", name=re.compile(re.escape(question)))
        group.get_by_text("Yes", exact=True).click()
    page.get_by_label(re.compile("Weight on the precision scale")).fill(weight)
    page.get_by_role("group", name="Condition grade").get_by_text(grade, exact=True).click()


def test_scan_receive_inspect_restock_and_resell_on_a_tablet(
    live_server: str, browser: Any, sqlite_engine: Engine
) -> None:
    from playwright.sync_api import expect

    factory = make_session_factory(sqlite_engine)
    seeded = seed(factory, {"RING-GOLD-52": 2}, locations=("LYON", "PARIS"))
    with unit_of_work(factory) as session:
        add_shipment(session, seeded.merchant_id, seeded.return_id, "LBL123456FR")
        routed = inventory_service.route_restock(session, seeded.merchant_id, "RING-GOLD-52").location
    email = add_staff(factory, seeded.merchant_id, "warehouse", language="en")

    page = new_page(browser, width=768, height=1024, mobile=True)
    page.goto(f"{live_server}/backoffice/warehouse")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(STAFF_PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    # The scanner types the label's QR text, then Enter; an unknown code first.
    scan = page.get_by_label("Scan the label, or type the RMA or tracking number")
    expect(scan).to_be_focused()
    expect(page.locator("#queue-awaiting_parcel .tile-count")).to_have_text("1")
    scan.fill("R-404404")
    scan.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("No return matches the code “R-404404”")
    expect(scan).to_be_focused()
    scan.fill(f"RETOUR;RMA={seeded.number};TRK=LBL123456FR")
    scan.press("Enter")
    expect(page.get_by_role("heading", name=f"Receive return {seeded.number}")).to_be_visible()
    screenshot(page, "warehouse-receive")

    page.get_by_label("Quantity arrived of RING-GOLD-52").fill("2")
    page.get_by_label("Parcel weight (g)").fill("85")
    page.get_by_role("button", name="Record the parcel").click()
    expect(page.get_by_role("status")).to_have_text("Parcel received: 2 unit(s) to inspect.")
    units = page.locator(".unit-list a")
    expect(units).to_have_count(2)

    # First ring: as new, restocked where routing sends it.
    units.first.click()
    inspect_ring(page, "New", "3.0")
    screenshot(page, "warehouse-inspect")
    page.get_by_role("button", name="Record the inspection").click()
    expect(page.get_by_role("heading", name="Accepted")).to_be_visible()
    expect(page.locator("#disposition")).to_contain_text("back to stock")
    screenshot(page, "warehouse-disposition")
    page.get_by_role("button", name="Apply the disposition").click()
    expect(page.get_by_role("status")).to_contain_text(f"Done: back to stock at {routed.title()} ({routed})")
    expect(page.locator("#location")).to_have_text(routed)

    page.get_by_role("link", name="See the stock of RING-GOLD-52").click()
    expect(page.locator("#on-hand-total")).to_have_text("1")
    expect(page.locator(f'#stock-levels tr[data-location="{routed}"] td.num')).to_have_text("1")
    expect(page.locator("#movements tbody tr")).to_have_count(1)
    screenshot(page, "warehouse-stock")
    page.go_back()

    # Second ring: lightly damaged, goes on sale second-hand.
    page.get_by_role("link", name="Next unit").click()
    inspect_ring(page, "Lightly damaged", "3.0")
    page.get_by_role("button", name="Record the inspection").click()
    expect(page.locator("#disposition")).to_contain_text("resell second-hand")
    page.get_by_role("button", name="Apply the disposition").click()
    expect(page.get_by_role("status")).to_contain_text("Done: resell second-hand at a discount.")

    page.get_by_role("link", name="Second-hand listings").click()
    rows = page.locator("#listings tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("RING-GOLD-52")
    expect(rows.first).to_contain_text("Lightly damaged")
    expect(page.locator("#listings-count")).to_have_text("1")
    screenshot(page, "warehouse-listings")
    page.context.close()
