"""Races, with real threads, each with its own session and transaction, on SQLite and PostgreSQL.

A ``threading.Barrier`` makes the contenders overlap. On PostgreSQL they meet *inside* their
transactions, after each has read the rows it is about to change (as a page or the API does before
acting), so that only the row locks taken by the services keep them apart. On SQLite a writer holds
the database from ``BEGIN IMMEDIATE``, so they meet just before starting their transactions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.actor import Actor
from retour.kit.db import unit_of_work
from retour.kit.errors import Conflict, Refused
from retour.merchant import service as merchant_service
from retour.models import AuditEvent, Customer, Order, OrderLine, ReturnRequest
from retour.order import service as order_service
from retour.order.schemas import OrderIn
from retour.policy import service as policy_service
from retour.return_request import repository, service
from retour.return_request.schemas import ReturnIn
from tests import factories

AGENT = Actor("api_key", "1", "API key #1")
LAST_UNIT = {
    "external_id": "ring",
    "sku": "RING-GOLD-52",
    "title": "Bague Lune or 52",
    "quantity": 2,
    "unit_price_amount": 12900,
    "tax_amount": 4300,
}


def race(
    engine: Engine,
    factory: sessionmaker[Session],
    contenders: list[Callable[[Session], Any]],
    *,
    before: Callable[[Session], Any] = lambda session: None,
) -> list[Any]:
    """Run each contender in its own thread and transaction, all at once; returns what each gave
    back or raised. ``before`` runs in each transaction before the barrier (PostgreSQL only)."""
    barrier = threading.Barrier(len(contenders))
    inside = engine.dialect.name != "sqlite"
    results: list[Any] = [None] * len(contenders)

    def run(index: int) -> None:
        try:
            if not inside:
                barrier.wait(timeout=30)
            with unit_of_work(factory) as session:
                seen = None
                if inside:
                    seen = before(session)  # kept alive, as a page keeps what it showed
                    barrier.wait(timeout=30)
                results[index] = contenders[index](session)
                del seen
        except Exception as error:
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(contenders))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


def ask(order_id: int, line_id: int, quantity: int = 1) -> ReturnIn:
    return ReturnIn.model_validate(
        {
            "order_id": order_id,
            "resolution": "refund",
            "method": "prepaid_label",
            "lines": [{"order_line_id": line_id, "quantity": quantity, "reason_code": "too_small"}],
        }
    )


def test_two_requests_race_for_the_last_returnable_unit(engine: Engine, factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        merchant_id = factories.merchant(session).id
    for _ in range(5):
        with unit_of_work(factory) as session:
            order = factories.order(session, merchant_id, lines=[LAST_UNIT])
            order_id, line_id = order.id, order.lines[0].id
            service.request_return(session, merchant_id, ask(order_id, line_id), actor=AGENT)  # one unit left

        def contender(session: Session, order_id: int = order_id, line_id: int = line_id) -> ReturnRequest:
            return service.request_return(session, merchant_id, ask(order_id, line_id), actor=AGENT)

        def look(session: Session, order_id: int = order_id) -> object:
            return order_service.get_order(session, merchant_id, order_id)  # what the returnable page reads

        results = race(engine, factory, [contender, contender], before=look)
        winners = [result for result in results if isinstance(result, ReturnRequest)]
        losers = [result for result in results if not isinstance(result, ReturnRequest)]
        assert len(winners) == 1 and len(losers) == 1, results
        assert winners[0].status == "approved"
        assert isinstance(losers[0], Refused)
        assert (losers[0].status, losers[0].code, losers[0].extra) == (
            422,
            "quantity_exceeds_returnable",
            {"returnable_quantity": 0},
        )
        with factory() as session:
            assert repository.held_quantities(session, merchant_id, [line_id]) == {line_id: 2}
            count = select(func.count()).select_from(ReturnRequest).where(ReturnRequest.order_id == order_id)
            assert session.scalar(count) == 2


def test_two_api_calls_race_for_the_last_returnable_unit(client: TestClient, shop: dict[str, Any]) -> None:
    headers = shop["headers"]
    order = client.post(
        "/api/v1/orders", json=factories.order_payload(lines=[{**LAST_UNIT, "quantity": 1}]), headers=headers
    ).json()
    body = ask(order["id"], order["lines"][0]["id"]).model_dump(mode="json")
    barrier = threading.Barrier(2)
    answers: list[Any] = [None, None]

    def call(index: int) -> None:
        barrier.wait(timeout=30)
        answers[index] = client.post("/api/v1/returns", json=body, headers=headers)

    threads = [threading.Thread(target=call, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    by_status = {answer.status_code: answer for answer in answers}
    assert sorted(by_status) == [201, 422], [answer.text for answer in answers]
    assert by_status[201].json()["status"] == "approved"
    assert by_status[422].headers["content-type"] == "application/problem+json"
    assert (by_status[422].json()["code"], by_status[422].json()["returnable_quantity"]) == (
        "quantity_exceeds_returnable",
        0,
    )
    listed = client.get(f"/api/v1/returns?order_id={order['id']}", headers=headers).json()
    assert len(listed["items"]) == 1
    returnable = client.get(f"/api/v1/orders/{order['id']}/returnable", headers=headers).json()
    assert returnable["lines"][0]["returnable_quantity"] == 0


def test_concurrent_creations_in_one_shop_get_unique_gapless_numbers(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as session:
        merchant_id = factories.merchant(session).id
        orders = [factories.order(session, merchant_id) for _ in range(4)]
        targets = [(order.id, order.lines[0].id) for order in orders]

    def contender(index: int) -> Callable[[Session], list[str]]:
        def create(session: Session) -> list[str]:
            order_id, line_id = targets[index]
            first = service.request_return(session, merchant_id, ask(order_id, line_id), actor=AGENT)
            second = service.request_return(session, merchant_id, ask(order_id, line_id), actor=AGENT)
            return [first.number, second.number]

        return create

    def look(session: Session) -> object:
        return merchant_service.get_merchant(session, merchant_id)  # as the portal does, by slug, first

    for _ in range(3):
        results = race(engine, factory, [contender(index) for index in range(4)], before=look)
        assert all(isinstance(result, list) for result in results), results
        # each round frees the lines again for the next one
        with unit_of_work(factory) as session:
            for request in service.list_returns(
                session, merchant_id, repository.ReturnFilters(status="approved")
            ).items:
                service.cancel_return(session, merchant_id, request.id, actor=AGENT)
    with factory() as session:
        numbers = sorted(session.scalars(select(ReturnRequest.number).where(ReturnRequest.merchant_id == merchant_id)))
        assert numbers == [f"R-{n:06d}" for n in range(1, 25)]
        assert merchant_service.get_merchant(session, merchant_id).return_sequence == 24


def test_approve_and_reject_racing_on_one_return_let_exactly_one_win(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as session:
        merchant_id = factories.merchant(session).id
        order = factories.order(session, merchant_id)
        order_id, line_id = order.id, order.lines[0].id
    for round_ in range(4):
        with unit_of_work(factory) as session:
            if round_ == 0:
                document = policy_service.get_active(session, merchant_id).document.model_dump(mode="json")
                document["defaults"]["auto_approve"] = False
                policy_service.publish(session, merchant_id=merchant_id, raw=document, actor=AGENT)
            request = service.request_return(session, merchant_id, ask(order_id, line_id), actor=AGENT)
            return_id = request.id

        def look(session: Session, return_id: int = return_id) -> object:
            return service.get_return(session, merchant_id, return_id)  # the back-office page shows it first

        moves = [
            lambda session, return_id=return_id: service.approve_return(session, merchant_id, return_id, actor=AGENT),
            lambda session, return_id=return_id: service.reject_return(session, merchant_id, return_id, actor=AGENT),
            lambda session, return_id=return_id: service.cancel_return(session, merchant_id, return_id, actor=AGENT),
        ]
        results = race(engine, factory, moves, before=look)
        winners = [result for result in results if isinstance(result, ReturnRequest)]
        losers = [result for result in results if isinstance(result, Conflict)]
        assert len(losers) == len(results) - len(winners), results
        with factory() as session:
            stored = service.get_return(session, merchant_id, return_id)
            actions = session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.subject_type == "return_request", AuditEvent.subject_id == return_id)
                .order_by(AuditEvent.id)
            ).all()
        # approve then cancel is a legal sequence; anything else allows exactly one winner.
        assert actions[0] == "return.requested"
        assert [f"return.{winner.status}" for winner in winners] == actions[1:]
        assert stored.status == winners[-1].status
        assert actions[1:] in (
            ["return.approved"],
            ["return.rejected"],
            ["return.cancelled"],
            ["return.approved", "return.cancelled"],
        ), actions
        for loser in losers:
            assert loser.code == "invalid_transition"
        if stored.status != "approved":
            continue
        with unit_of_work(factory) as session:
            service.cancel_return(session, merchant_id, return_id, actor=AGENT)


def test_a_transition_decides_on_the_locked_row_not_on_an_earlier_read(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    if engine.dialect.name == "sqlite":
        pytest.skip("SQLite writers hold the whole database from BEGIN IMMEDIATE: no earlier read can go stale")
    with unit_of_work(factory) as session:
        merchant_id = factories.merchant(session).id
        order = factories.order(session, merchant_id)
        request = service.request_return(session, merchant_id, ask(order.id, order.lines[0].id), actor=AGENT)
    with unit_of_work(factory) as late:
        shown = service.get_return(late, merchant_id, request.id)  # read (and kept, as a page does), then...
        assert shown.status == "approved"
        with unit_of_work(factory) as early:  # ...someone else cancels and commits
            service.cancel_return(early, merchant_id, request.id, actor=AGENT)
        with pytest.raises(Conflict) as caught:
            service.cancel_return(late, merchant_id, request.id, actor=AGENT)
        assert caught.value.extra == {"status": "cancelled"}
        assert shown.status == "cancelled"  # the locked read refreshed it


def test_two_orders_of_a_new_customer_arriving_together_both_go_in(
    engine: Engine, factory: sessionmaker[Session]
) -> None:
    """Shop platforms send webhooks in parallel: the customer row must not make one of them fail."""
    with unit_of_work(factory) as session:
        merchant_id = factories.merchant(session).id
    for round_ in range(3):
        email = f"new-{round_}@example.fr"
        payloads = [
            OrderIn.model_validate(factories.order_payload(customer={"email": email, "name": "Inès"})) for _ in range(2)
        ]
        contenders = [
            lambda session, payload=payload: order_service.upsert_order(session, merchant_id, payload)[0].id
            for payload in payloads
        ]
        results = race(engine, factory, contenders)
        assert all(isinstance(result, int) for result in results), results
        with factory() as session:
            customers = session.scalars(select(Customer).where(Customer.email == email)).all()
            assert len(customers) == 1
            orders = session.scalars(select(Order.customer_id).where(Order.id.in_(results))).all()
            assert orders == [customers[0].id, customers[0].id]


def test_the_same_new_order_sent_twice_at_once_is_created_once(engine: Engine, factory: sessionmaker[Session]) -> None:
    with unit_of_work(factory) as session:
        merchant_id = factories.merchant(session).id
    payload = OrderIn.model_validate(factories.order_payload())

    def upsert(session: Session) -> tuple[int, bool]:
        order, created = order_service.upsert_order(session, merchant_id, payload)
        return order.id, created

    results = race(engine, factory, [upsert, upsert])
    assert all(isinstance(result, tuple) for result in results), results
    assert sorted(created for _, created in results) == [False, True]
    assert results[0][0] == results[1][0]
    with factory() as session:
        count = select(func.count()).select_from(OrderLine).where(OrderLine.order_id == results[0][0])
        assert session.scalar(count) == 2


def test_the_same_idempotency_key_sent_twice_at_once_gets_one_return_and_the_same_answer(
    client: TestClient, shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    headers = {**shop["headers"], "Idempotency-Key": "checkout-42"}
    order = client.post(
        "/api/v1/orders", json=factories.order_payload(lines=[{**LAST_UNIT, "quantity": 1}]), headers=headers
    ).json()
    body = ask(order["id"], order["lines"][0]["id"]).model_dump(mode="json")
    barrier = threading.Barrier(2)
    answers: list[Any] = [None, None]

    def call(index: int) -> None:
        barrier.wait(timeout=30)
        answers[index] = client.post("/api/v1/returns", json=body, headers=headers)

    threads = [threading.Thread(target=call, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [answer.status_code for answer in answers] == [201, 201], [answer.text for answer in answers]
    assert answers[0].json() == answers[1].json()
    assert sorted(answer.headers.get("idempotent-replayed", "") for answer in answers) == ["", "true"]
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(ReturnRequest)) == 1


def test_a_read_request_never_fails_because_its_key_is_stamped(factory: sessionmaker[Session]) -> None:
    """A GET reads without asking for the write lock; stamping ``last_used_at`` must not turn it into
    a failing writer when something else was written since its first read (SQLite refuses that
    upgrade): the stamp is then skipped, and a later request makes it."""
    with unit_of_work(factory) as session:
        merchant_id = factories.merchant(session).id
        token = factories.api_key(session, merchant_id)
    reader = factory()  # as a GET request: a plain BEGIN
    try:
        assert reader.scalar(select(func.count()).select_from(ReturnRequest)) == 0  # its first read
        with unit_of_work(factory) as other:  # meanwhile the worker, or another request, writes
            factories.merchant(other)
        key = merchant_service.authenticate_api_key(reader, token)
        reader.commit()
    finally:
        reader.close()
    assert key.merchant_id == merchant_id
    with factory() as session:  # on a quiet database the stamp is made
        stamped = merchant_service.authenticate_api_key(session, token)
        session.commit()
    with factory() as session:
        assert merchant_service.list_api_keys(session, merchant_id)[0].last_used_at is not None
        assert stamped.last_used_at is not None
