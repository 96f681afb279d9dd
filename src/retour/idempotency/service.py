"""``Idempotency-Key``: the same key and body get the same answer; the same key with another body
is refused. The answer is stored in the same transaction as the work it describes."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from retour.kit.errors import InvalidInput
from retour.models import IdempotencyRecord


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict[str, Any]


def request_hash(endpoint: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{endpoint}\n{canonical}".encode()).hexdigest()


def check(session: Session, *, merchant_id: int, key: str, endpoint: str, body: Any) -> Replay | None:
    """The stored answer for this key; refuses a key reused for another request. None if the key is
    new, and then the key is *claimed* by this transaction: a concurrent request with the same key
    waits for it to end, then replays its answer (or, if it rolled back, goes ahead itself)."""
    if not 1 <= len(key) <= 200:
        raise InvalidInput("Idempotency-Key must have 1 to 200 characters", field="Idempotency-Key")
    record = _record(session, merchant_id, key)
    if record is None:
        try:
            with session.begin_nested():
                session.add(
                    IdempotencyRecord(
                        merchant_id=merchant_id,
                        key=key,
                        endpoint=endpoint,
                        request_hash=request_hash(endpoint, body),
                        response_status=0,  # filled in by remember(), in this same transaction
                        response_body={},
                    )
                )
                session.flush()
            return None
        except IntegrityError:
            record = _record(session, merchant_id, key)  # claimed by a request that committed meanwhile
            if record is None:
                raise
    if record.endpoint != endpoint or record.request_hash != request_hash(endpoint, body):
        raise InvalidInput(
            "this Idempotency-Key was already used for a different request",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    return Replay(record.response_status, dict(record.response_body))


def _record(session: Session, merchant_id: int, key: str) -> IdempotencyRecord | None:
    return session.scalars(
        select(IdempotencyRecord).where(IdempotencyRecord.merchant_id == merchant_id, IdempotencyRecord.key == key)
    ).first()


def remember(
    session: Session,
    *,
    merchant_id: int,
    key: str,
    endpoint: str,
    body: Any,
    status: int,
    response: dict[str, Any],
) -> None:
    """Store the answer under the key (claimed by ``check``), in the transaction of the work it describes."""
    record = _record(session, merchant_id, key)
    if record is None:
        record = IdempotencyRecord(merchant_id=merchant_id, key=key)
        session.add(record)
    record.endpoint = endpoint
    record.request_hash = request_hash(endpoint, body)
    record.response_status = status
    record.response_body = response
    session.flush()
