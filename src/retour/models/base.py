"""Declarative base, shared column types and the constraint naming convention Alembic relies on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, ForeignKey, Integer, MetaData
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from retour.kit import clock

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Id = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")
Timestamp = DateTime(timezone=True)
Amount = BigInteger()
"""Money in minor units: 64 bits, so that quantity × price (in a CHECK too) never overflows."""


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: Timestamp, dict[str, Any]: Json, list[Any]: Json}


def pk() -> Mapped[int]:
    return mapped_column(Id, primary_key=True, autoincrement=True)


def merchant_fk() -> Mapped[int]:
    return mapped_column(Id, ForeignKey("merchant.id", ondelete="CASCADE"), nullable=False)


def created_at() -> Mapped[datetime]:
    return mapped_column(Timestamp, nullable=False, default=clock.now)


def updated_at() -> Mapped[datetime]:
    return mapped_column(Timestamp, nullable=False, default=clock.now, onupdate=clock.now)
