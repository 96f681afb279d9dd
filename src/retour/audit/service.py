"""The audit trail: appended in the same transaction as the change it records."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from retour.audit import repository
from retour.kit.actor import Actor
from retour.models import AuditEvent


def record(
    session: Session,
    *,
    merchant_id: int,
    subject_type: str,
    subject_id: int,
    action: str,
    actor: Actor,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        merchant_id=merchant_id,
        subject_type=subject_type,
        subject_id=subject_id,
        action=action,
        actor_type=actor.type,
        actor_id=actor.id,
        actor_label=actor.label,
        before=before,
        after=after,
    )
    session.add(event)
    return event


def timeline(session: Session, merchant_id: int, subject_type: str, subject_id: int) -> list[AuditEvent]:
    return repository.list_for_subject(session, merchant_id, subject_type, subject_id)
