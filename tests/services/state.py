"""What a refusal must leave untouched: row counts, return statuses and the shops' return counters.

Queried through the session it is given, so that pending (unflushed) writes show up too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from retour.models import AuditEvent, IdempotencyRecord, Merchant, OutboxMessage, ReturnLine, ReturnRequest


@dataclass(frozen=True)
class State:
    return_requests: int
    return_lines: int
    audit_events: int
    outbox_messages: int
    idempotency_records: int
    statuses: tuple[tuple[int, str], ...]
    approved_quantities: tuple[tuple[int, int], ...]
    sequences: tuple[tuple[int, int], ...]


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _rows(session: Session, statement: Any) -> tuple[Any, ...]:
    return tuple(tuple(row) for row in session.execute(statement))


def snapshot(session: Session) -> State:
    return State(
        return_requests=_count(session, ReturnRequest),
        return_lines=_count(session, ReturnLine),
        audit_events=_count(session, AuditEvent),
        outbox_messages=_count(session, OutboxMessage),
        idempotency_records=_count(session, IdempotencyRecord),
        statuses=_rows(session, select(ReturnRequest.id, ReturnRequest.status).order_by(ReturnRequest.id)),
        approved_quantities=_rows(session, select(ReturnLine.id, ReturnLine.approved_quantity).order_by(ReturnLine.id)),
        sequences=_rows(session, select(Merchant.id, Merchant.return_sequence).order_by(Merchant.id)),
    )
