"""All SQL of the customer portal: its sessions and the failed lookups the rate limit counts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from retour.models import PortalLookupFailure, PortalSession


def session_by_token_hash(session: Session, merchant_id: int, token_hash: str) -> PortalSession | None:
    return session.scalars(
        select(PortalSession).where(PortalSession.merchant_id == merchant_id, PortalSession.token_hash == token_hash)
    ).first()


def failures_since(session: Session, merchant_id: int, scope: str, key: str, since: datetime) -> list[datetime]:
    """When each failed lookup of this address or order number happened, oldest first."""
    return list(
        session.scalars(
            select(PortalLookupFailure.created_at)
            .where(
                PortalLookupFailure.merchant_id == merchant_id,
                PortalLookupFailure.scope == scope,
                PortalLookupFailure.key == key,
                PortalLookupFailure.created_at > since,
            )
            .order_by(PortalLookupFailure.created_at)
        )
    )


def add_failure(session: Session, merchant_id: int, scope: str, key: str, at: datetime) -> None:
    session.add(PortalLookupFailure(merchant_id=merchant_id, scope=scope, key=key, created_at=at))


def forget_failures_before(session: Session, merchant_id: int, scope: str, key: str, before: datetime) -> None:
    """Failures older than the window no longer count: drop them so the table stays small."""
    session.execute(
        delete(PortalLookupFailure).where(
            PortalLookupFailure.merchant_id == merchant_id,
            PortalLookupFailure.scope == scope,
            PortalLookupFailure.key == key,
            PortalLookupFailure.created_at <= before,
        )
    )


def forget_expired_sessions(session: Session, merchant_id: int, now: datetime) -> None:
    session.execute(
        delete(PortalSession).where(PortalSession.merchant_id == merchant_id, PortalSession.expires_at <= now)
    )
