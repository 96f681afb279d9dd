"""The transactional outbox and its worker loop: retries with backoff (the clock is moved, never
slept), dead letters, replay, and workers claiming concurrently without running a message twice."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from retour.kit import clock
from retour.kit.db import unit_of_work
from retour.models import AuditEvent, OutboxMessage
from retour.outbox import service as outbox
from tests import factories

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
Handler = Callable[[Session, outbox.Message], None]


@pytest.fixture
def register(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str, Handler], None]]:
    """Register handlers for one test only."""
    monkeypatch.setattr(outbox, "_HANDLERS", dict(outbox._HANDLERS))

    def add(topic: str, function: Handler) -> None:
        outbox.handler(topic)(function)

    yield add


def enqueue(factory: sessionmaker[Session], topic: str, count: int = 1, *, merchant_id: int | None = None) -> list[int]:
    with clock.frozen(T0), unit_of_work(factory) as session:
        if merchant_id is None:
            merchant_id = factories.merchant(session).id
        messages = [
            outbox.enqueue(session, merchant_id=merchant_id, topic=topic, payload={"n": n}) for n in range(count)
        ]
        session.flush()
        return [message.id for message in messages]


def row(factory: sessionmaker[Session], message_id: int) -> OutboxMessage:
    with factory() as session:
        found = session.get(OutboxMessage, message_id)
        assert found is not None
        return found


def state(factory: sessionmaker[Session], message_id: int) -> tuple[str, int, str | None, datetime]:
    found = row(factory, message_id)
    return found.status, found.attempts, found.last_error, clock.as_utc(found.available_at)


def deliveries(factory: sessionmaker[Session]) -> int:
    """Side effects the handlers committed (one audit row per completed run)."""
    with factory() as session:
        return (
            session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "test.delivered"))
            or 0
        )


def deliver(session: Session, message: outbox.Message) -> None:
    factories.record_delivery(session, message)
    session.flush()


def at(seconds: float) -> Any:
    return clock.frozen(T0 + timedelta(seconds=seconds))


def test_handler_failing_twice_then_succeeding_runs_exactly_once_to_completion(
    factory: sessionmaker[Session], register: Callable[[str, Handler], None]
) -> None:
    seen: list[int] = []

    def flaky(session: Session, message: outbox.Message) -> None:
        seen.append(message.attempts)
        deliver(session, message)  # written, then rolled back with the failure
        if len(seen) <= 2:
            raise outbox.RetryableError("carrier down")

    register("test.flaky", flaky)
    (message_id,) = enqueue(factory, "test.flaky")
    error = "retour.outbox.service.RetryableError: carrier down"

    with at(0):
        assert outbox.process_one(factory) is True
        assert state(factory, message_id) == ("pending", 1, error, T0 + timedelta(seconds=2))
        assert outbox.process_one(factory) is False  # not due before its backoff
    with at(1.999):
        assert outbox.drain(factory) == 0
    with at(2):
        assert outbox.process_one(factory) is True
        assert state(factory, message_id) == ("pending", 2, error, T0 + timedelta(seconds=2 + 4))
    with at(5.999):
        assert outbox.drain(factory) == 0
    with at(6):
        assert outbox.drain(factory) == 1
    found = row(factory, message_id)
    assert (found.status, found.attempts, found.last_error) == ("done", 3, None)
    assert found.processed_at is not None and clock.as_utc(found.processed_at) == T0 + timedelta(seconds=6)
    assert seen == [0, 1, 2]
    assert deliveries(factory) == 1
    with at(3600):
        assert outbox.drain(factory) == 0
    assert seen == [0, 1, 2]


def test_backoff_doubles_and_is_capped_at_one_hour() -> None:
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3, 10, 11, 12, 40)] == [
        2,
        4,
        8,
        1024,
        2048,
        3600,
        3600,
    ]


def test_final_error_dead_letters_at_once(
    factory: sessionmaker[Session], register: Callable[[str, Handler], None]
) -> None:
    calls: list[int] = []

    def refuse(session: Session, message: outbox.Message) -> None:
        calls.append(message.id)
        deliver(session, message)
        raise outbox.FinalError("the address bounced")

    register("test.final", refuse)
    (message_id,) = enqueue(factory, "test.final")
    with at(0):
        assert outbox.drain(factory) == 1
    status, attempts, last_error, _ = state(factory, message_id)
    assert (status, attempts, last_error) == ("dead", 1, "retour.outbox.service.FinalError: the address bounced")
    with at(86400):
        assert outbox.drain(factory) == 0
    assert calls == [message_id]
    assert deliveries(factory) == 0


def test_max_attempts_dead_letters(factory: sessionmaker[Session], register: Callable[[str, Handler], None]) -> None:
    calls: list[int] = []

    def broken(session: Session, message: outbox.Message) -> None:
        calls.append(message.attempts)
        raise ValueError("boom")

    register("test.broken", broken)
    (message_id,) = enqueue(factory, "test.broken")
    with at(0):
        assert outbox.process_one(factory, max_attempts=3) is True
    with at(2):
        assert outbox.process_one(factory, max_attempts=3) is True
    assert state(factory, message_id)[:3] == ("pending", 2, "ValueError: boom")
    with at(6):
        assert outbox.process_one(factory, max_attempts=3) is True
    assert state(factory, message_id)[:3] == ("dead", 3, "ValueError: boom")
    with at(86400):
        assert outbox.drain(factory, max_attempts=3) == 0
    assert calls == [0, 1, 2]


def test_replay_puts_a_dead_message_back_and_it_runs(
    factory: sessionmaker[Session], register: Callable[[str, Handler], None]
) -> None:
    healthy = {"value": False}

    def until_fixed(session: Session, message: outbox.Message) -> None:
        if not healthy["value"]:
            raise outbox.FinalError("misconfigured")
        deliver(session, message)

    register("test.replay", until_fixed)
    (message_id,) = enqueue(factory, "test.replay")
    merchant_id = row(factory, message_id).merchant_id
    with at(0):
        outbox.drain(factory)
    assert state(factory, message_id)[0] == "dead"
    healthy["value"] = True
    with at(100), unit_of_work(factory) as session:
        outbox.replay(session, merchant_id, message_id)
    assert state(factory, message_id) == (
        "pending",
        0,
        "retour.outbox.service.FinalError: misconfigured",
        T0 + timedelta(seconds=100),
    )
    with at(100):
        assert outbox.drain(factory) == 1
    status, attempts, last_error, _ = state(factory, message_id)
    assert (status, attempts, last_error) == ("done", 1, None)
    assert deliveries(factory) == 1


def test_replay_touches_only_the_shops_own_dead_messages(
    factory: sessionmaker[Session], register: Callable[[str, Handler], None]
) -> None:
    register("test.ok", deliver)

    def fail(session: Session, message: outbox.Message) -> None:
        raise outbox.FinalError("no")

    register("test.dead", fail)
    (done_id,) = enqueue(factory, "test.ok")
    merchant_id = row(factory, done_id).merchant_id
    (dead_id,) = enqueue(factory, "test.dead", merchant_id=merchant_id)
    with at(0):
        assert outbox.drain(factory) == 2
    with unit_of_work(factory) as session:
        other_shop = factories.merchant(session).id
    with at(10), unit_of_work(factory) as session:
        outbox.replay(session, other_shop, dead_id)  # not theirs
        outbox.replay(session, merchant_id, done_id)  # done is done: a replay must not send it twice
    assert state(factory, dead_id)[:2] == ("dead", 1)
    assert state(factory, done_id)[:2] == ("done", 1)
    with at(10):
        assert outbox.drain(factory) == 0
    assert deliveries(factory) == 1


def test_unknown_topic_dead_letters(factory: sessionmaker[Session]) -> None:
    (message_id,) = enqueue(factory, "test.nobody-listens")
    with at(0):
        assert outbox.drain(factory) == 1
    assert state(factory, message_id)[:3] == (
        "dead",
        1,
        "retour.outbox.service.FinalError: no handler for topic 'test.nobody-listens'",
    )


def test_messages_run_oldest_first(factory: sessionmaker[Session], register: Callable[[str, Handler], None]) -> None:
    order: list[int] = []
    register("test.order", lambda session, message: order.append(message.payload["n"]))
    enqueue(factory, "test.order", 5)
    with at(0):
        assert outbox.drain(factory) == 5
    assert order == [0, 1, 2, 3, 4]


def test_return_events_are_acknowledged_by_the_registered_handlers(factory: sessionmaker[Session]) -> None:
    from retour import tasks

    assert set(tasks.RETURN_TOPICS) <= set(outbox.registered_topics())
    ids = [enqueue(factory, topic)[0] for topic in ("return.requested", "return.rejected")]
    with at(0):
        assert outbox.drain(factory) == 2
    assert [state(factory, message_id)[:3] for message_id in ids] == [("done", 1, None), ("done", 1, None)]


def run_workers(factory: sessionmaker[Session], workers: int) -> None:
    barrier = threading.Barrier(workers)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait(timeout=30)
            outbox.drain(factory)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []


def test_concurrent_workers_never_run_a_message_twice(
    factory: sessionmaker[Session], register: Callable[[str, Handler], None]
) -> None:
    """``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE`` on SQLite."""
    runs: Counter[int] = Counter()
    workers: set[str] = set()
    lock = threading.Lock()

    def count(session: Session, message: outbox.Message) -> None:
        with lock:
            runs[message.id] += 1
            workers.add(threading.current_thread().name)
        deliver(session, message)

    register("test.count", count)
    ids = enqueue(factory, "test.count", 60)
    with at(0):
        run_workers(factory, 3)
    assert runs == Counter(dict.fromkeys(ids, 1))
    assert deliveries(factory) == 60
    with factory() as session:
        assert set(session.scalars(select(OutboxMessage.status))) == {"done"}


def test_a_failed_attempt_is_recorded_before_another_worker_can_claim_it(
    factory: sessionmaker[Session], register: Callable[[str, Handler], None]
) -> None:
    """Between a failure and its backoff, the message must not be claimable: every message below
    fails once, and with the clock stopped none may run a second time."""
    runs: Counter[int] = Counter()
    lock = threading.Lock()

    def fail_once(session: Session, message: outbox.Message) -> None:
        with lock:
            runs[message.id] += 1
        raise outbox.RetryableError("try later")

    register("test.fail-once", fail_once)
    ids = enqueue(factory, "test.fail-once", 60)
    with at(0):
        run_workers(factory, 3)
    assert runs == Counter(dict.fromkeys(ids, 1))
    with factory() as session:
        rows = session.execute(select(OutboxMessage.status, OutboxMessage.attempts)).all()
    assert sorted({(status, attempts) for status, attempts in rows}) == [("pending", 1)]


def test_a_handler_whose_sql_fails_is_retried_like_any_failure(
    factory: sessionmaker[Session], register: Callable[[str, Handler], None]
) -> None:
    def bad_sql(session: Session, message: outbox.Message) -> None:
        deliver(session, message)
        session.execute(text("SELECT * FROM no_such_table"))

    register("test.bad-sql", bad_sql)
    (message_id,) = enqueue(factory, "test.bad-sql")
    with at(0):
        assert outbox.drain(factory) == 1
    status, attempts, last_error, available_at = state(factory, message_id)
    assert (status, attempts, available_at) == ("pending", 1, T0 + timedelta(seconds=2))
    assert last_error is not None and "no_such_table" in last_error
    assert deliveries(factory) == 0
