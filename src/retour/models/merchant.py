from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from retour.models.base import Base, Id, Json, created_at, merchant_fk, pk


class Merchant(Base):
    """A shop. Everything a shop owns carries its id."""

    __tablename__ = "merchant"

    id: Mapped[int] = pk()
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    default_currency: Mapped[str] = mapped_column(String(3), default="EUR")
    default_language: Mapped[str] = mapped_column(String(5), default="fr")
    brand_color: Mapped[str] = mapped_column(String(7), default="#3b4a6b")
    logo_url: Mapped[str | None] = mapped_column(String(500))
    settings: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    return_sequence: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = created_at()


class StaffUser(Base):
    __tablename__ = "staff_user"
    __table_args__ = (
        UniqueConstraint("merchant_id", "email"),
        CheckConstraint("role IN ('admin', 'agent', 'warehouse')", name="role"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(5), default="fr")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = created_at()


class ApiKey(Base):
    """An API key: ``rtr_<prefix>_<secret>``. Only the SHA-256 of the secret is kept."""

    __tablename__ = "api_key"
    __table_args__ = (Index("ix_api_key_merchant_id", "merchant_id"),)

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[Any]] = mapped_column(Json, default=list)
    created_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
