"""C2–C5 through the pages: choose, options, review, confirm; the return is the API's return."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.actor import Actor
from retour.kit.db import unit_of_work
from retour.models import ReturnLine, ReturnRequest, Shipment
from retour.policy import service as policy_service
from retour.policy.defaults import DEFAULT_POLICY
from tests.portal.conftest import choose, confirm, csrf, open_order, options


def _publish(factory: sessionmaker[Session], shop: dict[str, Any], **defaults: Any) -> None:
    raw = {**DEFAULT_POLICY, "defaults": {**DEFAULT_POLICY["defaults"], **defaults}}
    with unit_of_work(factory) as session:
        policy_service.publish(session, merchant_id=shop["id"], raw=raw, actor=Actor.system("tests"))


def _returns(factory: sessionmaker[Session]) -> list[ReturnRequest]:
    with unit_of_work(factory, write=False) as session:
        return list(session.scalars(select(ReturnRequest)))


def test_refund_flow_creates_the_return_like_the_api(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    client.headers.update({"Accept-Language": "en-GB,en;q=0.9"})
    open_order(client, portal_shop)
    ring, necklace = portal_shop["lines"]
    chosen = choose(
        client,
        portal_shop,
        {ring: {"quantity": "1", "reason": "too_small", "comment": "A bit tight"}, necklace: {"quantity": "0"}},
    )
    assert chosen.url.path.endswith("/options")
    assert "Refund to your original payment" in chosen.text
    assert "129.00" in chosen.text  # one ring, price actually paid
    chosen_options = options(client, portal_shop, resolution="refund", method="prepaid_label")
    assert chosen_options.url.path.endswith("/review")
    assert "A bit tight" in chosen_options.text
    assert "Total" in chosen_options.text
    done = confirm(client, portal_shop)
    assert done.status_code == 200
    assert "/r/" in done.url.path and done.url.query == b"new=1"
    assert "Your return is registered" in done.text
    [created] = _returns(factory)
    assert (created.channel, created.resolution, created.method, created.status) == (
        "portal",
        "refund",
        "prepaid_label",
        "approved",
    )
    assert created.refund_estimate_amount == 12900
    assert created.gift_recipient_email is None
    with unit_of_work(factory, write=False) as session:
        [line] = session.scalars(select(ReturnLine)).all()
        assert (line.order_line_id, line.requested_quantity, line.reason_code, line.comment) == (
            ring,
            1,
            "too_small",
            "A bit tight",
        )
        [parcel] = session.scalars(select(Shipment)).all()
        assert (parcel.return_request_id, parcel.method, parcel.status) == (
            created.id,
            "prepaid_label",
            "label_created",
        )
    # The draft starts afresh: the review page sends back to the items.
    again = client.get(f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}/review")
    assert again.url.path == f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}"
    assert "Returnable: 1" in again.text  # one ring left
    assert created.number in again.text  # listed under the returns already started


def test_choose_page_shows_deadlines_and_why_not(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as session:
        from retour.models import OrderLine

        line = session.get(OrderLine, portal_shop["lines"][1])
        assert line is not None
        line.is_final_sale = True
    client.headers.update({"Accept-Language": "en"})
    page = open_order(client, portal_shop)
    assert "Returnable: 2" in page.text
    assert "until " in page.text
    assert "Final-sale items (such as engraved or personalised pieces) cannot be returned." in page.text
    assert f'name="line-{portal_shop["lines"][1]}-quantity"' not in page.text
    assert '<optgroup label="Size or fit">' in page.text
    assert "Arrived damaged (photos needed)" in page.text
    french = client.get(f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}?lang=fr")
    assert "ne peuvent pas être retournés" in french.text
    assert '<html lang="fr">' in french.text


def test_item_refusals_are_linked_to_their_fields(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    client.headers.update({"Accept-Language": "en"})
    open_order(client, portal_shop)
    ring, necklace = portal_shop["lines"]
    nothing = choose(client, portal_shop, {ring: {"quantity": "0"}})
    assert nothing.status_code == 422
    assert "Choose at least one item to return" in nothing.text
    refused = choose(
        client, portal_shop, {ring: {"quantity": "3", "reason": "too_small"}, necklace: {"quantity": "1", "reason": ""}}
    )
    assert refused.status_code == 422
    assert f'href="#line-{ring}-quantity"' in refused.text
    assert f'aria-describedby="line-{ring}-quantity-error" aria-invalid="true"' in refused.text
    assert "You can return at most 2 of this item." in refused.text
    assert f'id="line-{necklace}-reason-error"' in refused.text
    # What was typed is kept.
    assert '<option value="3" selected>' not in refused.text  # 3 is not offered, but the reason is
    assert '<option value="too_small" selected>' in refused.text
    assert _returns(factory) == []


def test_photos_are_required_for_damaged_items(client: TestClient, portal_shop: dict[str, Any]) -> None:
    client.headers.update({"Accept-Language": "en"})
    open_order(client, portal_shop)
    ring = portal_shop["lines"][0]
    refused = choose(client, portal_shop, {ring: {"quantity": "1", "reason": "damaged"}})
    assert refused.status_code == 422
    assert "Add at least one photo for this reason." in refused.text


def test_store_credit_shows_its_bonus_and_the_live_quote(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    _publish(factory, portal_shop, bonus_credit_percent="10", return_shipping_fee_amount=490)
    client.headers.update({"Accept-Language": "en"})
    open_order(client, portal_shop)
    page = choose(client, portal_shop, {portal_shop["lines"][0]: {"quantity": "2", "reason": "changed_mind"}})
    # 2 × 129.00 − 4.90 shipping = 253.10 refunded; + 10 % bonus = 278.41 as credit.
    assert "253.10" in page.text
    assert "278.41" in page.text
    assert "Includes a bonus of €25.31." in page.text
    fragment = client.get(
        f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}/quote",
        params={"resolution": "store_credit"},
        headers={"HX-Request": "true"},
    )
    assert fragment.status_code == 200
    assert "<html" not in fragment.text
    assert "Store credit bonus" in fragment.text and "€25.31" in fragment.text and "€278.41" in fragment.text
    assert "− €4.90" in fragment.text
    options(client, portal_shop, resolution="store_credit", method="drop_off")
    confirm(client, portal_shop)
    [created] = _returns(factory)
    assert (created.resolution, created.refund_estimate_amount, created.quote["bonus_amount"]) == (
        "store_credit",
        27841,
        2531,
    )


def test_exchange_needs_a_variant_of_the_same_product(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    client.headers.update({"Accept-Language": "en"})
    open_order(client, portal_shop)
    ring = portal_shop["lines"][0]
    page = choose(client, portal_shop, {ring: {"quantity": "1", "reason": "too_small"}})
    assert "Instead of Bague Lune or 52" in page.text
    assert "Or 54 · €129.00 · available" in page.text
    assert "Or 52 ·" not in page.text  # not the same variant again
    missing = options(client, portal_shop, resolution="exchange", method="prepaid_label")
    assert missing.status_code == 422
    assert "Choose the size or colour you want instead." in missing.text
    with unit_of_work(factory, write=False) as session:
        from retour.models import Variant

        wanted = session.scalars(select(Variant).where(Variant.sku == "RING-GOLD-54")).one()
    chosen = options(
        client, portal_shop, resolution="exchange", method="prepaid_label", **{f"line-{ring}-variant": str(wanted.id)}
    )
    assert chosen.url.path.endswith("/review")
    assert "Exchange for: Or 54" in chosen.text
    confirm(client, portal_shop)
    with unit_of_work(factory, write=False) as session:
        [line] = session.scalars(select(ReturnLine)).all()
        assert line.exchange_variant_id == wanted.id


def test_exchange_is_not_offered_without_another_variant(client: TestClient, portal_shop: dict[str, Any]) -> None:
    client.headers.update({"Accept-Language": "en"})
    open_order(client, portal_shop)
    page = choose(client, portal_shop, {portal_shop["lines"][1]: {"quantity": "1", "reason": "changed_mind"}})
    assert "No other size or colour is available for these items." in page.text
    refused = options(client, portal_shop, resolution="exchange", method="prepaid_label")
    assert refused.status_code == 422


def test_gift_return_goes_to_store_credit_for_the_recipient(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    client.headers.update({"Accept-Language": "en"})
    open_order(client, portal_shop, mode="gift", gift_code="GIFT-7Q4K", recipient_email="alix@example.org", email="")
    page = choose(client, portal_shop, {portal_shop["lines"][1]: {"quantity": "1", "reason": "changed_mind"}})
    assert 'value="store_credit"' in page.text
    assert 'value="refund"' not in page.text
    assert "Gift returns are settled with store credit for you" in page.text
    refused = options(client, portal_shop, resolution="refund", method="prepaid_label")
    assert refused.status_code == 422
    options(client, portal_shop, resolution="store_credit", method="prepaid_label")
    status = confirm(client, portal_shop)
    assert "the store credit is for alix@example.org, not for the buyer." in status.text
    [created] = _returns(factory)
    assert (created.resolution, created.gift_recipient_email) == ("store_credit", "alix@example.org")


def test_home_pickup_and_in_store_need_their_details(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    _publish(factory, portal_shop, methods=["home_pickup", "in_store"])
    client.headers.update({"Accept-Language": "en"})
    open_order(client, portal_shop)
    page = choose(client, portal_shop, {portal_shop["lines"][0]: {"quantity": "1", "reason": "too_large"}})
    assert "Maison Lune Paris" in page.text
    assert "9:00 to 12:00" in page.text
    assert options(client, portal_shop, resolution="refund", method="home_pickup").status_code == 422
    assert options(client, portal_shop, resolution="refund", method="in_store").status_code == 422
    slot = page.text.split('name="pickup"')[1].split('<option value="')[2].split('"')[0]
    chosen = options(client, portal_shop, resolution="refund", method="home_pickup", pickup=slot)
    assert chosen.url.path.endswith("/review")
    confirm(client, portal_shop)
    with unit_of_work(factory, write=False) as session:
        [parcel] = session.scalars(select(Shipment)).all()
        assert (parcel.method, f"{parcel.pickup_date.isoformat()}|{parcel.pickup_slot}") == ("home_pickup", slot)


def test_a_return_needing_review_says_what_happens_next(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    _publish(factory, portal_shop, auto_approve=False)
    client.headers.update({"Accept-Language": "en"})
    open_order(client, portal_shop)
    choose(client, portal_shop, {portal_shop["lines"][0]: {"quantity": "1", "reason": "too_large"}})
    options(client, portal_shop, resolution="refund", method="prepaid_label")
    status = confirm(client, portal_shop)
    assert "Waiting for review" in status.text
    assert "Our team checks this return before approving it" in status.text
    assert "Download the label" not in status.text
    with unit_of_work(factory, write=False) as session:
        assert session.scalar(select(func.count(Shipment.id))) == 0


def test_confirm_refused_when_the_order_changed(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    client.headers.update({"Accept-Language": "en"})
    open_order(client, portal_shop)
    choose(client, portal_shop, {portal_shop["lines"][0]: {"quantity": "2", "reason": "too_large"}})
    options(client, portal_shop, resolution="refund", method="prepaid_label")
    review = client.get(f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}/review")
    # Meanwhile another return takes one ring.
    with TestClient(client.app) as other:
        open_order(other, portal_shop)
        choose(other, portal_shop, {portal_shop["lines"][0]: {"quantity": "1", "reason": "too_large"}})
        options(other, portal_shop, resolution="refund", method="prepaid_label")
        confirm(other, portal_shop)
    refused = client.post(
        f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}/confirm", data={"csrf_token": csrf(review.text)}
    )
    assert refused.status_code == 409
    assert "Your return could not be created" in refused.text
    assert len(_returns(factory)) == 1


def test_a_pickup_slot_gone_by_confirmation_leaves_nothing_behind(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    from datetime import UTC, datetime, time, timedelta

    from retour.kit import clock
    from retour.models import Merchant

    _publish(factory, portal_shop, methods=["home_pickup"])
    client.headers.update({"Accept-Language": "en"})
    tuesday = clock.now().date() + timedelta(days=(1 - clock.now().weekday()) % 7 or 7)
    late_evening = datetime.combine(tuesday, time(23, 50), tzinfo=UTC)
    with clock.frozen(late_evening):
        open_order(client, portal_shop)
        page = choose(client, portal_shop, {portal_shop["lines"][0]: {"quantity": "1", "reason": "too_large"}})
        slot = page.text.split('name="pickup"')[1].split('<option value="')[2].split('"')[0]
        options(client, portal_shop, resolution="refund", method="home_pickup", pickup=slot)
        review = client.get(f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}/review")
    # Twenty minutes later it is tomorrow: the first slot is no longer offered.
    with clock.frozen(late_evening + timedelta(minutes=20)):
        refused = client.post(
            f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}/confirm",
            data={"csrf_token": csrf(review.text)},
        )
    assert refused.status_code == 409
    assert "Your return could not be created" in refused.text
    assert _returns(factory) == []
    with unit_of_work(factory, write=False) as session:
        assert session.scalar(select(func.count(Shipment.id))) == 0
        merchant = session.get(Merchant, portal_shop["id"])
        assert merchant is not None and merchant.return_sequence == 0


def _set_stock(factory: sessionmaker[Session], stock: dict[str, int | None]) -> dict[str, int]:
    from retour.models import Variant

    with unit_of_work(factory) as session:
        ids = {}
        for sku, quantity in stock.items():
            variant = session.scalars(select(Variant).where(Variant.sku == sku)).one()
            variant.inventory_quantity = quantity
            ids[sku] = variant.id
        return ids


def test_exchange_shows_the_stock_and_refuses_a_sold_out_size(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    ids = _set_stock(factory, {"RING-GOLD-54": 0, "RING-GOLD-56": 2})
    client.headers.update({"Accept-Language": "en"})
    open_order(client, portal_shop)
    ring = portal_shop["lines"][0]
    page = choose(client, portal_shop, {ring: {"quantity": "1", "reason": "too_small"}})
    assert f'<option value="{ids["RING-GOLD-54"]}" disabled>Or 54 · €129.00 · out of stock</option>' in page.text
    assert "Or 56 · €129.00 · only 2 left" in page.text
    sold_out = options(
        client,
        portal_shop,
        resolution="exchange",
        method="prepaid_label",
        **{f"line-{ring}-variant": str(ids["RING-GOLD-54"])},
    )
    assert sold_out.status_code == 422
    assert "This size or colour is out of stock: choose another one." in sold_out.text
    assert _returns(factory) == []
    chosen = options(
        client,
        portal_shop,
        resolution="exchange",
        method="prepaid_label",
        **{f"line-{ring}-variant": str(ids["RING-GOLD-56"])},
    )
    assert chosen.url.path.endswith("/review")


def test_exchange_is_not_offered_when_every_other_size_is_sold_out(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    _set_stock(factory, {"RING-GOLD-54": 0, "RING-GOLD-56": 0})
    client.headers.update({"Accept-Language": "fr"})
    open_order(client, portal_shop)
    page = choose(client, portal_shop, {portal_shop["lines"][0]: {"quantity": "1", "reason": "too_small"}})
    assert "Toutes les autres tailles ou couleurs sont épuisées pour le moment." in page.text
    assert 'value="exchange"' not in page.text
    refused = options(client, portal_shop, resolution="exchange", method="prepaid_label")
    assert refused.status_code == 422
