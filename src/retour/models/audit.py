from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from retour.models.base import Base, Id, Json, created_at, merchant_fk, pk


class AuditEvent(Base):
    """Append-only: who did what to which subject, with before/after. Timelines read from it."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_event_merchant_id_subject", "merchant_id", "subject_type", "subject_id", "id"),)

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[int] = mapped_column(Id)
    action: Mapped[str] = mapped_column(String(60))
    actor_type: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[str | None] = mapped_column(String(60))
    actor_label: Mapped[str] = mapped_column(String(200), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(Json)
    after: Mapped[dict[str, Any] | None] = mapped_column(Json)
    created_at: Mapped[datetime] = created_at()


class OutboxMessage(Base):
    """Work to do after commit (emails, webhooks, outside calls). Claimed by ``retour worker``."""

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_status_available_at", "status", "available_at"),)

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    topic: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    available_at: Mapped[datetime] = created_at()
    last_error: Mapped[str | None] = mapped_column(String(4000))
    created_at: Mapped[datetime] = created_at()
    processed_at: Mapped[datetime | None]


class IdempotencyRecord(Base):
    """The answer given to an ``Idempotency-Key``, replayed for the same key and body."""

    __tablename__ = "idempotency_record"

    merchant_id: Mapped[int] = mapped_column(Id, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(String(64))
    response_status: Mapped[int]
    response_body: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = created_at()
