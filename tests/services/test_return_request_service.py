"""return_request.service against a real database (SQLite, and PostgreSQL when configured): what a
request writes, what a refusal leaves untouched, the quantity ledger, transitions, quotes, numbers
and shop isolation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retour.catalog import repository as catalog_repository
from retour.catalog import service as catalog_service
from retour.catalog.schemas import ProductIn
from retour.kit.actor import Actor
from retour.kit.db import begin_write, unit_of_work
from retour.kit.errors import Conflict, InvalidInput, NotFound, Refused, RetourError
from retour.models import AuditEvent, OutboxMessage, ReturnLine, ReturnRequest
from retour.order import service as order_service
from retour.policy import service as policy_service
from retour.policy.defaults import DEFAULT_POLICY
from retour.return_request import repository, service
from retour.return_request.repository import ReturnFilters
from retour.return_request.schemas import ReturnIn
from tests import factories
from tests.services.state import snapshot

AGENT = Actor("api_key", "7", "API key #7")

RING = {
    "external_id": "ring",
    "sku": "RING-GOLD-52",
    "title": "Bague Lune or 52",
    "quantity": 2,
    "unit_price_amount": 12900,
    "tax_amount": 4300,
    "category": "rings",
}
NECKLACE = {
    "external_id": "necklace",
    "sku": "NECK-SILVER",
    "title": "Collier Étoile argent",
    "quantity": 1,
    "unit_price_amount": 8900,
    "tax_amount": 1483,
    "category": "necklaces",
}
ENGRAVED = {
    "external_id": "engraved",
    "sku": "RING-ENGRAVED",
    "title": "Bague gravée",
    "quantity": 1,
    "unit_price_amount": 5900,
    "tax_amount": 983,
    "category": "rings",
    "is_final_sale": True,
}
HIGH_VALUE = {
    "id": "high-value",
    "name": {"en": "High value", "fr": "Forte valeur"},
    "when": {"unit_price_gte": 10000},
    "then": {"manual_review": True},
}


@dataclass(frozen=True)
class Seeded:
    merchant_id: int
    order_id: int
    lines: dict[str, int]
    """order line id by the line's external id"""


def seed(factory: sessionmaker[Session], *, lines: list[dict[str, Any]] | None = None, **overrides: Any) -> Seeded:
    """A committed shop with one delivered order."""
    with unit_of_work(factory) as session:
        merchant = factories.merchant(session)
        order = factories.order(session, merchant.id, lines=lines or [RING, NECKLACE, ENGRAVED], **overrides)
        return Seeded(merchant.id, order.id, {line.external_id: line.id for line in order.lines})


def add_order(factory: sessionmaker[Session], merchant_id: int, **overrides: Any) -> Seeded:
    with unit_of_work(factory) as session:
        order = factories.order(session, merchant_id, **overrides)
        return Seeded(merchant_id, order.id, {line.external_id: line.id for line in order.lines})


def publish(factory: sessionmaker[Session], merchant_id: int, *rules: dict[str, Any], **defaults: Any) -> int:
    document = {
        "defaults": {**DEFAULT_POLICY["defaults"], **defaults},
        "rules": [*DEFAULT_POLICY["rules"], *rules],
    }
    with unit_of_work(factory) as session:
        return policy_service.publish(session, merchant_id=merchant_id, raw=document, actor=AGENT).version


def ask(
    order_id: int,
    *lines: tuple[int, int, str],
    resolution: str = "refund",
    method: str = "prepaid_label",
) -> ReturnIn:
    return ReturnIn.model_validate(
        {
            "order_id": order_id,
            "resolution": resolution,
            "method": method,
            "lines": [
                {"order_line_id": line_id, "quantity": quantity, "reason_code": reason}
                for line_id, quantity, reason in lines
            ],
        }
    )


def create(factory: sessionmaker[Session], merchant_id: int, data: ReturnIn) -> ReturnRequest:
    with unit_of_work(factory) as session:
        return service.request_return(session, merchant_id, data, actor=AGENT)


@contextmanager
def writer(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A write transaction that the test ends itself (rolled back unless committed)."""
    session = factory()
    begin_write(session)
    try:
        yield session
    finally:
        session.rollback()
        session.close()


def refused_with_nothing_written(
    factory: sessionmaker[Session], merchant_id: int, data: ReturnIn, error: type[RetourError]
) -> RetourError:
    """The request is refused and the service wrote nothing, not even a return number."""
    with writer(factory) as session:
        before = snapshot(session)
        with pytest.raises(error) as caught:
            service.request_return(session, merchant_id, data, actor=AGENT)
        assert snapshot(session) == before  # autoflush: pending writes would show here
        assert not session.new and not session.dirty
    return caught.value


def events_of(session: Session, return_id: int) -> list[tuple[str, str, str, Any, Any]]:
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.subject_type == "return_request", AuditEvent.subject_id == return_id)
        .order_by(AuditEvent.id)
    )
    return [(e.action, e.actor_type, e.actor_label, e.before, e.after) for e in rows]


def outbox_of(session: Session) -> list[tuple[str, dict[str, Any], str, int]]:
    rows = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
    return [(m.topic, m.payload, m.status, m.attempts) for m in rows]


def returnable(session: Session, merchant_id: int, order_id: int) -> dict[int, int]:
    order = order_service.get_order(session, merchant_id, order_id)
    evaluation = service.evaluate_order(session, merchant_id, order)
    return {item.line.id: item.decision.returnable_quantity for item in evaluation.lines}


# ---- a request that is approved at once --------------------------------------------------------


def test_auto_approved_request_writes_return_audit_and_outbox_in_one_transaction(
    factory: sessionmaker[Session],
) -> None:
    shop = seed(factory)
    ring = shop.lines["ring"]
    with writer(factory) as session:
        request = service.request_return(
            session, shop.merchant_id, ask(shop.order_id, (ring, 1, "too_small")), actor=AGENT
        )
        assert (request.number, request.status, request.policy_version) == ("R-000001", "approved", 1)
        assert (request.needs_review, request.review_reasons, request.channel) == (False, [], "api")
        assert request.approved_at is not None and request.closed_at is None
        assert [(line.order_line_id, line.requested_quantity, line.approved_quantity) for line in request.lines] == [
            (ring, 1, 1)
        ]
        assert request.refund_estimate_amount == 12900
        assert request.quote == {
            "currency": "EUR",
            "resolution": "refund",
            "items_amount": 12900,
            "tax_amount": 2150,
            "restocking_fee_amount": 0,
            "return_shipping_fee_amount": 0,
            "shipping_refund_amount": 0,
            "bonus_amount": 0,
            "total_amount": 12900,
            "lines": [
                {
                    "order_line_id": ring,
                    "quantity": 1,
                    "item_amount": 12900,
                    "tax_amount": 2150,
                    "restocking_fee_amount": 0,
                }
            ],
        }
        assert events_of(session, request.id) == [
            (
                "return.requested",
                "api_key",
                "API key #7",
                None,
                {
                    "number": "R-000001",
                    "status": "requested",
                    "resolution": "refund",
                    "method": "prepaid_label",
                    "total_amount": 12900,
                    "lines": [{"order_line_id": ring, "quantity": 1, "reason": "too_small"}],
                },
            ),
            ("return.approved", "system", "Policy", {"status": "requested"}, {"status": "approved", "automatic": True}),
        ]
        payload = {"return_id": request.id, "number": "R-000001"}
        assert outbox_of(session) == [
            ("return.requested", payload, "pending", 0),
            ("return.approved", payload, "pending", 0),
        ]
        # All of it belongs to the caller's transaction: rolled back, nothing remains.
        session.rollback()
    with factory() as fresh:
        state = snapshot(fresh)
        assert (state.return_requests, state.return_lines, state.audit_events, state.outbox_messages) == (0, 0, 0, 0)
        assert dict(state.sequences)[shop.merchant_id] == 0


def test_committed_request_holds_its_units(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    ring = shop.lines["ring"]
    create(factory, shop.merchant_id, ask(shop.order_id, (ring, 1, "too_small")))
    with factory() as session:
        assert returnable(session, shop.merchant_id, shop.order_id) == {
            ring: 1,
            shop.lines["necklace"]: 1,
            shop.lines["engraved"]: 0,
        }
        assert repository.held_quantities(session, shop.merchant_id, [ring]) == {ring: 1}


# ---- a request that needs review ---------------------------------------------------------------


def test_request_needing_review_waits_with_its_reasons(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    assert publish(factory, shop.merchant_id, HIGH_VALUE) == 2
    ring, necklace = shop.lines["ring"], shop.lines["necklace"]
    # "damaged" fires the default "our-mistake" rule too: it is no reason for review.
    data = ask(shop.order_id, (ring, 1, "damaged"), (necklace, 1, "too_small"))
    request = create(factory, shop.merchant_id, data)
    with factory() as session:
        stored = service.get_return(session, shop.merchant_id, request.id)
        assert (stored.status, stored.needs_review, stored.policy_version) == ("requested", True, 2)
        assert stored.review_reasons == [
            {
                "rule_id": "high-value",
                "en": "High value: reviewed by our team before approval.",
                "fr": "Forte valeur : examiné par notre équipe avant validation.",
            }
        ]
        assert stored.approved_at is None
        assert [(line.requested_quantity, line.approved_quantity) for line in stored.lines] == [(1, 0), (1, 0)]
        assert [event[0] for event in events_of(session, stored.id)] == ["return.requested"]
        assert [message[0] for message in outbox_of(session)] == ["return.requested"]
        assert returnable(session, shop.merchant_id, shop.order_id)[ring] == 1


def test_shop_without_auto_approval_leaves_every_request_to_review(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    publish(factory, shop.merchant_id, auto_approve=False)
    request = create(factory, shop.merchant_id, ask(shop.order_id, (shop.lines["ring"], 1, "too_small")))
    assert (request.status, request.needs_review, request.review_reasons) == ("requested", False, [])


# ---- refusals: nothing written -----------------------------------------------------------------


def test_final_sale_line_is_refused_with_its_reason_in_both_languages(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    data = ask(shop.order_id, (shop.lines["ring"], 1, "too_small"), (shop.lines["engraved"], 1, "too_small"))
    error = refused_with_nothing_written(factory, shop.merchant_id, data, Refused)
    assert (error.status, error.code, error.field) == (422, "line_not_returnable", "lines.1")
    assert error.detail == "Final-sale items (such as engraved or personalised pieces) cannot be returned."
    assert error.extra == {
        "reason": {
            "en": "Final-sale items (such as engraved or personalised pieces) cannot be returned.",
            "fr": "Les articles en vente définitive (gravés ou personnalisés) ne peuvent pas être retournés.",
        }
    }


def test_quantity_over_returnable_is_refused(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    error = refused_with_nothing_written(
        factory, shop.merchant_id, ask(shop.order_id, (shop.lines["ring"], 3, "too_small")), Refused
    )
    assert (error.status, error.code, error.field) == (422, "quantity_exceeds_returnable", "lines.0.quantity")
    assert error.detail == "only 2 unit(s) of this item can still be returned"
    assert error.extra == {"returnable_quantity": 2}


def test_quantity_over_what_other_returns_left_is_refused(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    ring = shop.lines["ring"]
    create(factory, shop.merchant_id, ask(shop.order_id, (ring, 1, "too_small")))
    error = refused_with_nothing_written(factory, shop.merchant_id, ask(shop.order_id, (ring, 2, "too_large")), Refused)
    assert (error.code, error.field, error.extra) == (
        "quantity_exceeds_returnable",
        "lines.0.quantity",
        {"returnable_quantity": 1},
    )
    create(factory, shop.merchant_id, ask(shop.order_id, (ring, 1, "too_large")))
    # Every unit is now held: asking for one more is the same quantity refusal, with 0 left.
    error = refused_with_nothing_written(factory, shop.merchant_id, ask(shop.order_id, (ring, 1, "too_large")), Refused)
    assert (error.code, error.field, error.extra) == (
        "quantity_exceeds_returnable",
        "lines.0.quantity",
        {"returnable_quantity": 0},
    )
    assert error.detail == "only 0 unit(s) of this item can still be returned"


@pytest.mark.parametrize(
    ("resolution", "method", "code", "field", "detail"),
    [
        (
            "keep",
            "prepaid_label",
            "resolution_not_allowed",
            "resolution",
            "'keep' is not offered for this item; offered: refund, store_credit, exchange",
        ),
        (
            "refund",
            "home_pickup",
            "method_not_allowed",
            "method",
            "'home_pickup' is not offered for this item; offered: prepaid_label, drop_off, customer_ships",
        ),
    ],
)
def test_resolution_or_method_the_policy_does_not_offer_is_refused(
    factory: sessionmaker[Session], resolution: str, method: str, code: str, field: str, detail: str
) -> None:
    shop = seed(factory)
    data = ask(shop.order_id, (shop.lines["ring"], 1, "too_small"), resolution=resolution, method=method)
    error = refused_with_nothing_written(factory, shop.merchant_id, data, Refused)
    assert (error.status, error.code, error.field, error.detail) == (422, code, field, detail)


def test_discounted_line_under_an_exchange_only_rule_refuses_a_refund(factory: sessionmaker[Session]) -> None:
    discounted = {**RING, "discount_amount": 2580}
    shop = seed(factory, lines=[discounted, NECKLACE])
    publish(
        factory,
        shop.merchant_id,
        {
            "id": "sale-exchange",
            "name": {"en": "Sale items", "fr": "Articles soldés"},
            "when": {"is_discounted": True},
            "then": {"resolutions": ["exchange"]},
        },
    )
    error = refused_with_nothing_written(
        factory, shop.merchant_id, ask(shop.order_id, (shop.lines["ring"], 1, "too_small")), Refused
    )
    assert (error.code, error.detail) == (
        "resolution_not_allowed",
        "'refund' is not offered for this item; offered: exchange",
    )
    exchange = create(
        factory, shop.merchant_id, ask(shop.order_id, (shop.lines["ring"], 1, "too_small"), resolution="exchange")
    )
    assert exchange.status == "approved"


def test_unknown_reason_is_refused(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    error = refused_with_nothing_written(
        factory, shop.merchant_id, ask(shop.order_id, (shop.lines["ring"], 1, "bored")), InvalidInput
    )
    assert (error.status, error.code, error.field, error.detail) == (
        422,
        "unknown_reason",
        "lines.0.reason_code",
        "unknown reason code 'bored'",
    )


def test_line_of_another_order_is_refused(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    other = add_order(factory, shop.merchant_id)
    data = ask(shop.order_id, (shop.lines["ring"], 1, "too_small"), (other.lines["l1"], 1, "too_small"))
    error = refused_with_nothing_written(factory, shop.merchant_id, data, InvalidInput)
    assert (error.status, error.code, error.field) == (422, "unknown_order_line", "lines.1.order_line_id")


def test_same_line_twice_is_refused(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    ring = shop.lines["ring"]
    error = refused_with_nothing_written(
        factory, shop.merchant_id, ask(shop.order_id, (ring, 1, "too_small"), (ring, 1, "too_large")), InvalidInput
    )
    assert (error.status, error.code, error.field) == (422, "duplicate_order_line", "lines.1.order_line_id")


def test_refusal_after_earlier_returns_leaves_them_as_they_were(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    first = create(factory, shop.merchant_id, ask(shop.order_id, (shop.lines["ring"], 1, "too_small")))
    data = ask(shop.order_id, (shop.lines["necklace"], 1, "too_small"), (shop.lines["engraved"], 1, "too_small"))
    refused_with_nothing_written(factory, shop.merchant_id, data, Refused)
    with factory() as session:
        state = snapshot(session)
        assert (state.return_requests, state.return_lines, state.audit_events, state.outbox_messages) == (1, 1, 2, 2)
        assert state.statuses == ((first.id, "approved"),)
        assert dict(state.sequences)[shop.merchant_id] == 1
    second = create(factory, shop.merchant_id, ask(shop.order_id, (shop.lines["necklace"], 1, "too_small")))
    assert second.number == "R-000002"  # the refusal used no number


def test_order_not_delivered_yet_is_refused(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, delivered_days_ago=None, shipped_at=None)
    error = refused_with_nothing_written(
        factory, shop.merchant_id, ask(shop.order_id, (shop.lines["ring"], 1, "too_small")), Refused
    )
    assert error.code == "line_not_returnable"
    assert (
        error.extra["reason"]["en"] == "This item has not been delivered yet: it can be returned once it has arrived."
    )


def test_window_closed_is_refused(factory: sessionmaker[Session]) -> None:
    shop = seed(factory, delivered_days_ago=31)
    error = refused_with_nothing_written(
        factory, shop.merchant_id, ask(shop.order_id, (shop.lines["ring"], 1, "too_small")), Refused
    )
    assert error.code == "line_not_returnable"
    assert error.detail.startswith("The return window closed on ")
    assert error.extra["reason"]["fr"].startswith("Le délai de retour a pris fin le ")


# ---- the quantity ledger: returnable = delivered − held -----------------------------------------


def test_returnable_is_delivered_minus_what_each_status_holds(factory: sessionmaker[Session]) -> None:
    six = {**RING, "quantity": 6, "tax_amount": 0}
    shop = seed(factory, lines=[six])
    line = shop.lines["ring"]
    publish(factory, shop.merchant_id, auto_approve=False)

    def one(quantity: int = 1) -> int:
        return create(factory, shop.merchant_id, ask(shop.order_id, (line, quantity, "too_small"))).id

    requested, approved, in_progress, completed, rejected = one(), one(), one(), one(2), one()
    with factory() as session:
        assert returnable(session, shop.merchant_id, shop.order_id) == {line: 0}
    with unit_of_work(factory) as session:
        service.approve_return(session, shop.merchant_id, approved, actor=AGENT)
        service.approve_return(session, shop.merchant_id, in_progress, actor=AGENT)
        service.approve_return(session, shop.merchant_id, completed, actor=AGENT)
        service.reject_return(session, shop.merchant_id, rejected, actor=AGENT)
    with factory() as session:
        # requested 1 + approved 1 + approved 1 + approved 2; the rejected unit is free again.
        assert repository.held_quantities(session, shop.merchant_id, [line]) == {line: 5}
        assert returnable(session, shop.merchant_id, shop.order_id) == {line: 1}
    cancelled = one()
    with unit_of_work(factory) as session:
        service.cancel_return(session, shop.merchant_id, cancelled, actor=AGENT)
        # Receiving is a later feature: move the ledger by hand, as receiving will.
        moving = service.get_return(session, shop.merchant_id, in_progress)
        moving.status = "in_progress"
        done = service.get_return(session, shop.merchant_id, completed)
        done.status = "completed"
        done.lines[0].received_quantity = 1  # one of the two units never came back
    with factory() as session:
        # requested 1 + approved 1 + in progress 1 + completed (received) 1
        assert repository.held_quantities(session, shop.merchant_id, [line]) == {line: 4}
        assert returnable(session, shop.merchant_id, shop.order_id) == {line: 2}
        statuses = dict(snapshot(session).statuses)
        assert [statuses[i] for i in (requested, approved, in_progress, completed, rejected, cancelled)] == [
            "requested",
            "approved",
            "in_progress",
            "completed",
            "rejected",
            "cancelled",
        ]
    refused_with_nothing_written(factory, shop.merchant_id, ask(shop.order_id, (line, 3, "too_small")), Refused)
    assert create(factory, shop.merchant_id, ask(shop.order_id, (line, 2, "too_small"))).status == "requested"
    with factory() as session:
        assert returnable(session, shop.merchant_id, shop.order_id) == {line: 0}


def test_expired_return_releases_its_units(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    ring = shop.lines["ring"]
    request = create(factory, shop.merchant_id, ask(shop.order_id, (ring, 2, "too_small")))
    with unit_of_work(factory) as session:
        service.get_return(session, shop.merchant_id, request.id).status = "expired"
    with factory() as session:
        assert repository.held_quantities(session, shop.merchant_id, [ring]) == {ring: 0}
        assert returnable(session, shop.merchant_id, shop.order_id)[ring] == 2


# ---- transitions -------------------------------------------------------------------------------


@pytest.fixture
def review_shop(factory: sessionmaker[Session]) -> Seeded:
    shop = seed(factory)
    publish(factory, shop.merchant_id, auto_approve=False)
    return shop


def pending(factory: sessionmaker[Session], shop: Seeded, quantity: int = 2) -> ReturnRequest:
    request = create(factory, shop.merchant_id, ask(shop.order_id, (shop.lines["ring"], quantity, "too_small")))
    assert request.status == "requested"
    return request


def test_approve_moves_requested_to_approved_and_approves_every_unit(
    factory: sessionmaker[Session], review_shop: Seeded
) -> None:
    request = pending(factory, review_shop)
    with unit_of_work(factory) as session:
        approved = service.approve_return(session, review_shop.merchant_id, request.id, actor=AGENT, note="ok")
        assert approved.status == "approved"
    with factory() as session:
        stored = service.get_return(session, review_shop.merchant_id, request.id)
        assert (stored.status, stored.decision_note, stored.closed_at) == ("approved", "ok", None)
        assert stored.approved_at is not None
        assert [(line.requested_quantity, line.approved_quantity) for line in stored.lines] == [(2, 2)]
        assert events_of(session, request.id)[1:] == [
            ("return.approved", "api_key", "API key #7", {"status": "requested"}, {"status": "approved", "note": "ok"})
        ]
        assert [message[0] for message in outbox_of(session)] == ["return.requested", "return.approved"]


@pytest.mark.parametrize(("act", "status"), [("reject", "rejected"), ("cancel", "cancelled")])
def test_reject_and_cancel_close_the_return_and_free_its_units(
    factory: sessionmaker[Session], review_shop: Seeded, act: str, status: str
) -> None:
    request = pending(factory, review_shop)
    ring = review_shop.lines["ring"]
    move = service.reject_return if act == "reject" else service.cancel_return
    with unit_of_work(factory) as session:
        move(session, review_shop.merchant_id, request.id, actor=AGENT)
    with factory() as session:
        stored = service.get_return(session, review_shop.merchant_id, request.id)
        assert stored.status == status
        assert stored.closed_at is not None and stored.decision_note is None
        assert events_of(session, request.id)[1:] == [
            (f"return.{status}", "api_key", "API key #7", {"status": "requested"}, {"status": status})
        ]
        assert [message[0] for message in outbox_of(session)] == ["return.requested", f"return.{status}"]
        assert returnable(session, review_shop.merchant_id, review_shop.order_id)[ring] == 2


def test_an_approved_return_can_still_be_cancelled(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    request = create(factory, shop.merchant_id, ask(shop.order_id, (shop.lines["ring"], 1, "too_small")))
    with unit_of_work(factory) as session:
        assert service.cancel_return(session, shop.merchant_id, request.id, actor=AGENT).status == "cancelled"


def _force(factory: sessionmaker[Session], merchant_id: int, return_id: int, status: str) -> None:
    with unit_of_work(factory) as session:
        service.get_return(session, merchant_id, return_id).status = status


@pytest.mark.parametrize(
    ("status", "act"),
    [
        ("approved", "approve"),
        ("approved", "reject"),
        ("rejected", "approve"),
        ("rejected", "cancel"),
        ("cancelled", "cancel"),
        ("cancelled", "approve"),
        ("in_progress", "cancel"),
        ("completed", "cancel"),
        ("completed", "reject"),
        ("expired", "approve"),
    ],
)
def test_refused_transition_is_a_conflict_and_changes_nothing(
    factory: sessionmaker[Session], review_shop: Seeded, status: str, act: str
) -> None:
    request = pending(factory, review_shop)
    _force(factory, review_shop.merchant_id, request.id, status)
    move = {"approve": service.approve_return, "reject": service.reject_return, "cancel": service.cancel_return}[act]
    with writer(factory) as session:
        before = snapshot(session)
        with pytest.raises(Conflict) as caught:
            move(session, review_shop.merchant_id, request.id, actor=AGENT)
        assert snapshot(session) == before
        assert not session.dirty
    past = {"approve": "approved", "reject": "rejected", "cancel": "cancelled"}[act]
    assert (caught.value.status, caught.value.code, caught.value.extra) == (
        409,
        "invalid_transition",
        {"status": status},
    )
    assert caught.value.detail == f"a return that is {status} cannot be {past}"


def test_cancel_is_refused_once_part_of_the_return_arrived(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    request = create(factory, shop.merchant_id, ask(shop.order_id, (shop.lines["ring"], 2, "too_small")))
    with unit_of_work(factory) as session:
        service.get_return(session, shop.merchant_id, request.id).lines[0].received_quantity = 1
    with writer(factory) as session:
        before = snapshot(session)
        with pytest.raises(Conflict) as caught:
            service.cancel_return(session, shop.merchant_id, request.id, actor=AGENT)
        assert snapshot(session) == before
    assert caught.value.code == "already_received"


def test_transition_of_an_unknown_return_is_not_found(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    with writer(factory) as session, pytest.raises(NotFound):
        service.approve_return(session, shop.merchant_id, 999_999, actor=AGENT)


# ---- policy version ----------------------------------------------------------------------------


def test_a_return_keeps_the_policy_version_that_judged_it(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    first = create(factory, shop.merchant_id, ask(shop.order_id, (shop.lines["ring"], 1, "too_small")))
    assert publish(factory, shop.merchant_id, HIGH_VALUE) == 2
    second = create(factory, shop.merchant_id, ask(shop.order_id, (shop.lines["ring"], 1, "too_small")))
    assert publish(factory, shop.merchant_id) == 3
    with factory() as session:
        assert service.get_return(session, shop.merchant_id, first.id).policy_version == 1
        stored = service.get_return(session, shop.merchant_id, second.id)
        assert (stored.policy_version, stored.status) == (2, "requested")
        assert policy_service.get_active(session, shop.merchant_id).version == 3


# ---- quotes ------------------------------------------------------------------------------------


def test_partial_returns_of_a_discounted_line_add_up_to_exactly_what_was_paid(factory: sessionmaker[Session]) -> None:
    three = {**RING, "quantity": 3, "unit_price_amount": 10000, "discount_amount": 1000, "tax_amount": 4834}
    shop = seed(factory, lines=[three])
    line = shop.lines["ring"]
    first = create(factory, shop.merchant_id, ask(shop.order_id, (line, 1, "too_small")))
    second = create(factory, shop.merchant_id, ask(shop.order_id, (line, 2, "too_small")))
    assert (first.quote["items_amount"], first.quote["tax_amount"], first.quote["total_amount"]) == (9667, 1612, 9667)
    assert (second.quote["items_amount"], second.quote["tax_amount"], second.quote["total_amount"]) == (
        19333,
        3222,
        19333,
    )
    assert first.quote["items_amount"] + second.quote["items_amount"] == 3 * 10000 - 1000
    assert first.quote["tax_amount"] + second.quote["tax_amount"] == 4834


def test_zero_decimal_currency_is_quoted_in_whole_units(factory: sessionmaker[Session]) -> None:
    yen = {**RING, "quantity": 3, "unit_price_amount": 1500, "discount_amount": 100, "tax_amount": 400}
    shop = seed(factory, lines=[yen], currency="JPY")
    line = shop.lines["ring"]
    quotes = [
        create(factory, shop.merchant_id, ask(shop.order_id, (line, 1, "too_small"))).quote["total_amount"]
        for _ in range(3)
    ]
    assert quotes == [1467, 1467, 1466]


RESTOCKING = {
    "id": "rings-restocking",
    "name": {"en": "Rings", "fr": "Bagues"},
    "when": {"categories": ["rings"]},
    "then": {"restocking_fee_percent": "10", "return_shipping_fee_amount": 590},
}


def test_quote_deducts_restocking_and_return_shipping_fees(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    publish(factory, shop.merchant_id, RESTOCKING)
    request = create(factory, shop.merchant_id, ask(shop.order_id, (shop.lines["ring"], 2, "too_small")))
    quote = request.quote
    assert (quote["items_amount"], quote["restocking_fee_amount"], quote["return_shipping_fee_amount"]) == (
        25800,
        2580,
        590,
    )
    assert quote["lines"][0]["restocking_fee_amount"] == 2580
    assert quote["total_amount"] == 25800 - 2580 - 590 == request.refund_estimate_amount


def test_our_mistake_waives_the_fees(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    publish(factory, shop.merchant_id, RESTOCKING)
    request = create(factory, shop.merchant_id, ask(shop.order_id, (shop.lines["ring"], 1, "defective")))
    assert (request.quote["restocking_fee_amount"], request.quote["return_shipping_fee_amount"]) == (0, 0)
    assert request.quote["total_amount"] == 12900


def test_store_credit_earns_the_bonus(factory: sessionmaker[Session]) -> None:
    shop = seed(factory)
    publish(factory, shop.merchant_id, bonus_credit_percent="10")
    data = ask(
        shop.order_id,
        (shop.lines["ring"], 1, "too_small"),
        (shop.lines["necklace"], 1, "too_small"),
        resolution="store_credit",
    )
    quote = create(factory, shop.merchant_id, data).quote
    assert (quote["items_amount"], quote["bonus_amount"], quote["total_amount"]) == (21800, 2180, 23980)
    refund = create(
        factory, shop.merchant_id, ask(shop.order_id, (shop.lines["ring"], 1, "too_small"), resolution="refund")
    ).quote
    assert (refund["bonus_amount"], refund["total_amount"]) == (0, 12900)


# ---- numbers -----------------------------------------------------------------------------------


def test_return_numbers_count_per_shop(factory: sessionmaker[Session]) -> None:
    a = seed(factory)
    b = seed(factory)
    numbers_a = [
        create(factory, a.merchant_id, ask(a.order_id, (a.lines["ring"], 1, "too_small"))).number for _ in range(2)
    ]
    numbers_b = [create(factory, b.merchant_id, ask(b.order_id, (b.lines["necklace"], 1, "too_small"))).number]
    numbers_a.append(create(factory, a.merchant_id, ask(a.order_id, (a.lines["necklace"], 1, "too_small"))).number)
    assert numbers_a == ["R-000001", "R-000002", "R-000003"]
    assert numbers_b == ["R-000001"]
    with factory() as session:
        assert service.find_by_number(session, b.merchant_id, "r-000001") is not None
        assert service.find_by_number(session, b.merchant_id, "R-000002") is None


# ---- one shop never sees another's ----------------------------------------------------------


def test_a_shop_never_sees_another_shops_orders_or_returns(factory: sessionmaker[Session]) -> None:
    a = seed(factory)
    b = seed(factory)
    theirs = create(factory, a.merchant_id, ask(a.order_id, (a.lines["ring"], 1, "too_small")))
    other_shop = b.merchant_id
    with writer(factory) as session:
        before = snapshot(session)
        with pytest.raises(NotFound):
            order_service.get_order(session, other_shop, a.order_id)
        with pytest.raises(NotFound):
            service.request_return(session, other_shop, ask(a.order_id, (a.lines["ring"], 1, "too_small")), actor=AGENT)
        # Their order's line in our order: not ours either.
        with pytest.raises(InvalidInput) as caught:
            service.request_return(session, other_shop, ask(b.order_id, (a.lines["ring"], 1, "too_small")), actor=AGENT)
        assert caught.value.code == "unknown_order_line"
        with pytest.raises(NotFound):
            service.get_return(session, other_shop, theirs.id)
        for move in (service.approve_return, service.reject_return, service.cancel_return):
            with pytest.raises(NotFound):
                move(session, other_shop, theirs.id, actor=AGENT)
        assert service.find_by_number(session, other_shop, theirs.number) is None
        assert service.list_returns(session, other_shop, ReturnFilters()).items == []
        assert service.list_returns(session, other_shop, ReturnFilters(order_id=a.order_id)).items == []
        assert repository.held_quantities(session, other_shop, [a.lines["ring"]]) == {}
        assert service.count_by_status(session, other_shop) == {}
        assert service.timeline(session, other_shop, theirs.id) == []
        assert service.describe_returns(session, a.merchant_id, [theirs])[0].number == "R-000001"
        assert snapshot(session) == before
    with factory() as session:
        stored = session.get(ReturnRequest, theirs.id)
        assert stored is not None and stored.status == "approved"
        assert (
            session.scalar(select(ReturnLine.approved_quantity).where(ReturnLine.return_request_id == theirs.id)) == 1
        )


def test_listing_filters_and_pages_one_shops_returns(factory: sessionmaker[Session]) -> None:
    a = seed(factory)
    b = seed(factory)
    create(factory, b.merchant_id, ask(b.order_id, (b.lines["ring"], 1, "too_small")))
    ids = [create(factory, a.merchant_id, ask(a.order_id, (a.lines["ring"], 1, "too_small"))).id for _ in range(2)]
    ids.append(create(factory, a.merchant_id, ask(a.order_id, (a.lines["necklace"], 1, "too_small"))).id)
    with writer(factory) as session:
        first = service.list_returns(session, a.merchant_id, ReturnFilters(), limit=2)
        assert [r.id for r in first.items] == [ids[2], ids[1]]
        assert first.next_cursor is not None
        second = service.list_returns(session, a.merchant_id, ReturnFilters(), cursor=first.next_cursor, limit=2)
        assert ([r.id for r in second.items], second.next_cursor) == ([ids[0]], None)
        with pytest.raises(InvalidInput) as caught:
            service.list_returns(session, a.merchant_id, ReturnFilters(), cursor="not-a-cursor")
        assert (caught.value.code, caught.value.field) == ("invalid_cursor", "cursor")


# ---- exchanges ---------------------------------------------------------------------------------


def _product(session: Session, merchant_id: int, external_id: str, *skus: str) -> dict[str, int]:
    product = catalog_service.upsert_product(
        session,
        merchant_id,
        ProductIn.model_validate(
            {
                "external_id": external_id,
                "title": external_id,
                "variants": [{"sku": sku, "price_amount": 12900} for sku in skus],
            }
        ),
    )
    return {
        variant.sku: variant.id for variant in catalog_repository.variants_of_product(session, merchant_id, product.id)
    }


def test_an_exchange_is_for_the_same_product_of_the_same_shop(factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        merchant_id = factories.merchant(session).id
        other_shop = factories.merchant(session).id
        rings = _product(session, merchant_id, "ring", "RING-GOLD-52", "RING-GOLD-54")
        necklaces = _product(session, merchant_id, "necklace", "NECK-SILVER")
        theirs = _product(session, other_shop, "ring", "RING-GOLD-52", "RING-GOLD-54")
        order = factories.order(session, merchant_id, lines=[RING, NECKLACE, ENGRAVED])
        lines = {line.external_id: line.id for line in order.lines}
        order_id = order.id

    def exchange(line: str, variant_id: int) -> ReturnIn:
        data = ask(order_id, (lines[line], 1, "too_small"), resolution="exchange")
        data.lines[0].exchange_variant_id = variant_id
        return data

    for line, variant_id in (
        ("ring", necklaces["NECK-SILVER"]),  # another product
        ("ring", theirs["RING-GOLD-54"]),  # another shop's
        ("ring", 999_999),  # nothing
        ("engraved", rings["RING-GOLD-54"]),  # a line the catalogue does not know
    ):
        error = refused_with_nothing_written(factory, merchant_id, exchange(line, variant_id), InvalidInput)
        assert (error.status, error.code, error.field) == (
            422,
            "invalid_exchange_variant",
            "lines.0.exchange_variant_id",
        )
    bigger = create(factory, merchant_id, exchange("ring", rings["RING-GOLD-54"]))
    same = create(factory, merchant_id, exchange("ring", rings["RING-GOLD-52"]))  # a replacement
    assert [bigger.lines[0].exchange_variant_id, same.lines[0].exchange_variant_id] == [
        rings["RING-GOLD-54"],
        rings["RING-GOLD-52"],
    ]


def test_an_exchange_for_a_sold_out_variant_is_refused(factory: sessionmaker[Session]) -> None:
    from retour.models import Variant

    with unit_of_work(factory) as session:
        merchant_id = factories.merchant(session).id
        rings = _product(session, merchant_id, "ring", "RING-GOLD-52", "RING-GOLD-54", "RING-GOLD-56")
        for sku, stock in (("RING-GOLD-54", 0), ("RING-GOLD-56", 1)):
            variant = session.get(Variant, rings[sku])
            assert variant is not None
            variant.inventory_quantity = stock
        order = factories.order(session, merchant_id, lines=[RING])
        line_id, order_id = order.lines[0].id, order.id

    def exchange(variant_id: int) -> ReturnIn:
        data = ask(order_id, (line_id, 1, "too_small"), resolution="exchange")
        data.lines[0].exchange_variant_id = variant_id
        return data

    error = refused_with_nothing_written(factory, merchant_id, exchange(rings["RING-GOLD-54"]), Refused)
    assert (error.status, error.code, error.field) == (422, "exchange_out_of_stock", "lines.0.exchange_variant_id")
    created = create(factory, merchant_id, exchange(rings["RING-GOLD-56"]))
    assert created.lines[0].exchange_variant_id == rings["RING-GOLD-56"]


def test_customer_segments_count_the_customers_orders_in_this_shop_only(factory: sessionmaker[Session]) -> None:
    first_order = {
        "id": "first-order",
        "name": {"en": "First order", "fr": "Première commande"},
        "when": {"customer_segment_in": ["new_customer"]},
        "then": {"window_days": 60},
    }
    draft = policy_service.parse_document({"defaults": DEFAULT_POLICY["defaults"], "rules": [first_order]})
    customer = {"email": "lea@example.fr", "name": "Léa", "language": "fr", "tags": []}
    a = seed(factory, customer=customer)
    with unit_of_work(factory) as session:
        elsewhere = factories.merchant(session).id
    add_order(factory, elsewhere, customer=customer)

    def fired() -> list[str]:
        with unit_of_work(factory, write=False) as session:
            order = order_service.get_order(session, a.merchant_id, a.order_id)
            evaluation = service.evaluate_order(session, a.merchant_id, order, draft=draft)
            return [e.rule_id for e in evaluation.lines[0].decision.explanations]

    assert fired() == ["first-order"]
    add_order(factory, a.merchant_id, customer=customer)
    assert fired() == []
