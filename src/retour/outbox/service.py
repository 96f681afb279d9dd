"""The transactional outbox: side effects are written as rows in the same transaction as the
change, then run after commit by the worker. Delivery is at least once, so handlers are
idempotent, keyed by the message id."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from retour.kit import clock
from retour.kit.db import begin_write, is_sqlite
from retour.models import OutboxMessage

log = logging.getLogger("retour.outbox")


@dataclass(frozen=True)
class Message:
    id: int
    merchant_id: int
    topic: str
    payload: dict[str, Any]
    attempts: int


Handler = Callable[[Session, Message], None]
_HANDLERS: dict[str, Handler] = {}


class RetryableError(Exception):
    """The handler failed for a reason that may go away (outside service down, timeout)."""


class FinalError(Exception):
    """The handler can never succeed for this message: dead-letter it at once."""


def handler(topic: str) -> Callable[[Handler], Handler]:
    """Register the function that runs messages of ``topic``."""

    def register(function: Handler) -> Handler:
        _HANDLERS[topic] = function
        return function

    return register


def registered_topics() -> list[str]:
    return sorted(_HANDLERS)


def enqueue(session: Session, *, merchant_id: int, topic: str, payload: dict[str, Any]) -> OutboxMessage:
    message = OutboxMessage(merchant_id=merchant_id, topic=topic, payload=payload, status="pending", attempts=0)
    session.add(message)
    return message


def backoff(attempts: int) -> timedelta:
    """2 s, 4 s, 8 s... capped at one hour."""
    return timedelta(seconds=min(2**attempts, 3600))


def process_one(factory: sessionmaker[Session], *, max_attempts: int = 8) -> bool:
    """Claim the oldest due message, run its handler in a savepoint of the claiming transaction and
    mark it done. On failure only the handler's writes are rolled back: the attempt and its backoff
    are recorded in the same transaction, while the row is still locked, so that no other worker
    can claim the message in between. Returns False when nothing was due."""
    session = factory()
    message: Message | None = None
    try:
        begin_write(session)
        row = _claim(session)
        if row is None:
            session.rollback()
            return False
        message = Message(row.id, row.merchant_id, row.topic, dict(row.payload), row.attempts)
        failure = _run(session, message)
        if failure is None:
            row.status = "done"
            row.processed_at = clock.now()
            row.last_error = None
        else:
            _log_failure(message, failure)
            row.status = "dead" if _is_final(message, failure, max_attempts) else "pending"
            row.last_error = _describe(failure)
            row.available_at = clock.now() + backoff(message.attempts + 1)
        row.attempts = message.attempts + 1
        session.commit()
        return True
    except Exception as error:
        # The transaction itself broke (lost connection...): record the attempt apart.
        session.rollback()
        if message is None:
            raise
        _record_failure(factory, message, error, max_attempts=max_attempts)
        return True
    finally:
        session.close()


def _run(session: Session, message: Message) -> Exception | None:
    """Run the handler; its writes are kept only if it succeeds. Returns what it raised."""
    try:
        with session.begin_nested():
            run = _HANDLERS.get(message.topic)
            if run is None:
                raise FinalError(f"no handler for topic {message.topic!r}")
            run(session, message)
    except Exception as error:
        return error
    return None


def _is_final(message: Message, error: Exception, max_attempts: int) -> bool:
    return isinstance(error, FinalError) or message.attempts + 1 >= max_attempts


def _describe(error: Exception) -> str:
    return "".join(traceback.format_exception_only(type(error), error)).strip()[:4000]


def _log_failure(message: Message, error: Exception) -> None:
    log.warning(
        "outbox message %s (%s) failed, attempt %s: %s",
        message.id,
        message.topic,
        message.attempts + 1,
        _describe(error),
    )


def _claim(session: Session) -> OutboxMessage | None:
    statement = (
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.available_at <= clock.now())
        .order_by(OutboxMessage.available_at, OutboxMessage.id)
        .limit(1)
    )
    if not is_sqlite(session.get_bind()):
        statement = statement.with_for_update(skip_locked=True)
    return session.scalars(statement).first()


def _record_failure(factory: sessionmaker[Session], message: Message, error: Exception, *, max_attempts: int) -> None:
    _log_failure(message, error)
    attempts = message.attempts + 1
    with factory() as session:
        begin_write(session)
        session.execute(
            update(OutboxMessage)
            # Unless another worker already moved it on meanwhile.
            .where(
                OutboxMessage.id == message.id,
                OutboxMessage.status == "pending",
                OutboxMessage.attempts == message.attempts,
            )
            .values(
                attempts=attempts,
                status="dead" if _is_final(message, error, max_attempts) else "pending",
                last_error=_describe(error),
                available_at=clock.now() + backoff(attempts),
            )
        )
        session.commit()


def drain(factory: sessionmaker[Session], *, max_attempts: int = 8, limit: int = 1000) -> int:
    """Run every due message now (tests, ``retour worker --once``). Returns how many ran."""
    count = 0
    while count < limit and process_one(factory, max_attempts=max_attempts):
        count += 1
    return count


def replay(session: Session, merchant_id: int, message_id: int) -> None:
    """Put a dead message back in the queue (only a dead one: a done message is never sent twice)."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.merchant_id == merchant_id,
            OutboxMessage.id == message_id,
            OutboxMessage.status == "dead",
        )
        .values(status="pending", available_at=clock.now(), attempts=0)
    )
