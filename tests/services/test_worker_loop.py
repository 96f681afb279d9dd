"""The worker thread ``retour serve`` runs (``Worker.start_in_thread``): it picks up outbox rows
written after it started, survives a failing loop turn, and stops promptly when told, leaving
later rows for the next worker."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.db import unit_of_work
from retour.models import AuditEvent, OutboxMessage
from retour.outbox import service as outbox
from retour.worker import Worker
from tests import factories

TOPIC = "test.loop"


@pytest.fixture(autouse=True)
def _handler(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "_HANDLERS", dict(outbox._HANDLERS))
    outbox.handler(TOPIC)(factories.record_delivery)


@pytest.fixture
def merchant_id(factory: sessionmaker[Session]) -> int:
    with unit_of_work(factory) as session:
        return factories.merchant(session).id


@pytest.fixture
def worker(factory: sessionmaker[Session]) -> Iterator[Worker]:
    """A started worker thread polling every 20 ms; stopped at the end whatever happened."""
    started = Worker(factory, poll_seconds=0.02, periodic_seconds=3600)
    started.start_in_thread()
    yield started
    started.stop()


def _enqueue(factory: sessionmaker[Session], merchant_id: int, n: int) -> int:
    with unit_of_work(factory) as session:
        message = outbox.enqueue(session, merchant_id=merchant_id, topic=TOPIC, payload={"n": n})
        session.flush()
        return message.id


def _status(factory: sessionmaker[Session], message_id: int) -> tuple[str, int]:
    with factory() as session:
        row = session.get(OutboxMessage, message_id)
        assert row is not None
        return row.status, row.attempts


def _wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def _worker_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "retour-worker"]


def _delivered_ids(factory: sessionmaker[Session]) -> list[int]:
    with factory() as session:
        return sorted(session.scalars(select(AuditEvent.subject_id).where(AuditEvent.action == "test.delivered")))


def test_a_row_written_after_the_worker_started_is_processed(
    factory: sessionmaker[Session], merchant_id: int, worker: Worker
) -> None:
    assert len(_worker_threads()) == 1
    time.sleep(0.1)  # the worker has found the queue empty and is waiting

    first = _enqueue(factory, merchant_id, 1)
    assert _wait_until(lambda: _status(factory, first) == ("done", 1))
    second = _enqueue(factory, merchant_id, 2)
    assert _wait_until(lambda: _status(factory, second) == ("done", 1))

    assert _delivered_ids(factory) == [first, second]


def test_the_worker_stops_promptly_and_leaves_later_rows_pending(
    factory: sessionmaker[Session], merchant_id: int, worker: Worker
) -> None:
    done = _enqueue(factory, merchant_id, 1)
    assert _wait_until(lambda: _status(factory, done) == ("done", 1))

    began = time.monotonic()
    worker.stop()

    assert time.monotonic() - began < 2
    assert _worker_threads() == []
    after = _enqueue(factory, merchant_id, 2)
    time.sleep(0.2)  # ten polling periods: a live worker would have run it
    assert _status(factory, after) == ("pending", 0)
    assert _delivered_ids(factory) == [done]


def test_a_loop_turn_that_fails_does_not_stop_the_worker(
    factory: sessionmaker[Session], merchant_id: int, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real = outbox.process_one
    failures = {"left": 2}

    def flaky(session_factory: sessionmaker[Session], *, max_attempts: int = 8) -> bool:
        if failures["left"]:
            failures["left"] -= 1
            raise RuntimeError("database restarting")
        return real(session_factory, max_attempts=max_attempts)

    monkeypatch.setattr(outbox, "process_one", flaky)
    message_id = _enqueue(factory, merchant_id, 1)
    looping = Worker(factory, poll_seconds=0.02, periodic_seconds=3600)
    looping.start_in_thread()
    try:
        assert _wait_until(lambda: _status(factory, message_id) == ("done", 1))
    finally:
        looping.stop()

    assert failures["left"] == 0
    assert [record.getMessage() for record in caplog.records if record.name == "retour.worker"].count(
        "worker loop error"
    ) == 2
    assert _worker_threads() == []
    assert _delivered_ids(factory) == [message_id]
