from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from retour.models import AuditEvent


def list_for_subject(session: Session, merchant_id: int, subject_type: str, subject_id: int) -> list[AuditEvent]:
    statement = (
        select(AuditEvent)
        .where(
            AuditEvent.merchant_id == merchant_id,
            AuditEvent.subject_type == subject_type,
            AuditEvent.subject_id == subject_id,
        )
        .order_by(AuditEvent.id)
    )
    return list(session.scalars(statement))
