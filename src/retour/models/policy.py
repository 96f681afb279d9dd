from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from retour.models.base import Base, Id, Json, created_at, merchant_fk, pk


class Policy(Base):
    """One version of a shop's return policy. Versions are never edited, only added."""

    __tablename__ = "policy"
    __table_args__ = (
        UniqueConstraint("merchant_id", "version"),
        Index("ix_policy_merchant_id_is_active", "merchant_id", "is_active"),
    )

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    version: Mapped[int]
    document: Mapped[dict[str, Any]] = mapped_column(Json)
    is_active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(Id, ForeignKey("staff_user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_at()


class Reason(Base):
    """A return reason code. ``parent_code`` makes the tree (``size`` → ``too_small``)."""

    __tablename__ = "reason"
    __table_args__ = (UniqueConstraint("merchant_id", "code"),)

    id: Mapped[int] = pk()
    merchant_id: Mapped[int] = merchant_fk()
    code: Mapped[str] = mapped_column(String(60))
    parent_code: Mapped[str | None] = mapped_column(String(60))
    label_en: Mapped[str] = mapped_column(String(200))
    label_fr: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(default=0)
    requires_photo: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
