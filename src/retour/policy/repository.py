from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from retour.models import Policy, Reason


def active(session: Session, merchant_id: int) -> Policy | None:
    return session.scalars(
        select(Policy)
        .where(Policy.merchant_id == merchant_id, Policy.is_active.is_(True))
        .order_by(Policy.version.desc())
        .limit(1)
    ).first()


def by_version(session: Session, merchant_id: int, version: int) -> Policy | None:
    return session.scalars(select(Policy).where(Policy.merchant_id == merchant_id, Policy.version == version)).first()


def latest_version(session: Session, merchant_id: int) -> int:
    return (
        session.scalar(select(func.coalesce(func.max(Policy.version), 0)).where(Policy.merchant_id == merchant_id)) or 0
    )


def deactivate_all(session: Session, merchant_id: int) -> None:
    session.execute(update(Policy).where(Policy.merchant_id == merchant_id).values(is_active=False))


def reasons(session: Session, merchant_id: int, *, active_only: bool = True) -> list[Reason]:
    statement = select(Reason).where(Reason.merchant_id == merchant_id)
    if active_only:
        statement = statement.where(Reason.is_active.is_(True))
    return list(session.scalars(statement.order_by(Reason.position, Reason.id)))
