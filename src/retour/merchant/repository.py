from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from retour.models import ApiKey, Merchant, StaffUser


def get_by_slug(session: Session, slug: str) -> Merchant | None:
    return session.scalars(select(Merchant).where(Merchant.slug == slug)).first()


def get(session: Session, merchant_id: int) -> Merchant | None:
    return session.get(Merchant, merchant_id)


def lock(session: Session, merchant_id: int) -> Merchant:
    # populate_existing: the session may hold the shop from an earlier read; the counter must be fresh.
    statement = select(Merchant).where(Merchant.id == merchant_id).with_for_update()
    return session.scalars(statement.execution_options(populate_existing=True)).one()


def increment_return_sequence(session: Session, merchant_id: int) -> int:
    """``return_sequence + 1`` in one statement, computed by the database on the current row (never
    stale); the row stays locked until commit. A copy of the shop the session holds is brought up to date."""
    statement = (
        update(Merchant)
        .where(Merchant.id == merchant_id)
        .values(return_sequence=Merchant.return_sequence + 1)
        .returning(Merchant.return_sequence)
        .execution_options(synchronize_session="fetch")
    )
    return int(session.execute(statement).scalar_one())


def count(session: Session) -> int:
    return len(session.scalars(select(Merchant.id).limit(1)).all())


def staff_by_email(session: Session, email: str, merchant_slug: str | None) -> list[tuple[StaffUser, Merchant]]:
    statement = (
        select(StaffUser, Merchant)
        .join(Merchant, Merchant.id == StaffUser.merchant_id)
        .where(StaffUser.email == email.strip().lower(), StaffUser.is_active.is_(True))
    )
    if merchant_slug:
        statement = statement.where(Merchant.slug == merchant_slug)
    return [(user, merchant) for user, merchant in session.execute(statement)]


def get_staff(session: Session, merchant_id: int, user_id: int) -> StaffUser | None:
    return session.scalars(
        select(StaffUser).where(StaffUser.merchant_id == merchant_id, StaffUser.id == user_id)
    ).first()


def api_key_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    return session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).first()


def stamp_api_key(session: Session, key_id: int, at: datetime, *, due_before: datetime) -> None:
    """Set ``last_used_at`` if it is older than ``due_before``, unless another transaction is stamping
    the key right now (``SKIP LOCKED`` on PostgreSQL): a stamp never waits. A plain ``UPDATE`` made
    every request of a busy key wait, once a minute, for the whole transaction of the one stamping it."""
    due = (
        select(ApiKey.id)
        .where(ApiKey.id == key_id, or_(ApiKey.last_used_at.is_(None), ApiKey.last_used_at < due_before))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    session.execute(update(ApiKey).where(ApiKey.id == due).values(last_used_at=at))


def api_keys(session: Session, merchant_id: int) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.merchant_id == merchant_id).order_by(ApiKey.id.desc())))


def get_api_key(session: Session, merchant_id: int, key_id: int) -> ApiKey | None:
    return session.scalars(select(ApiKey).where(ApiKey.merchant_id == merchant_id, ApiKey.id == key_id)).first()
