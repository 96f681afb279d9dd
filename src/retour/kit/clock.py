"""The clock. Everything asks it for the time so that tests can move it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

_frozen: datetime | None = None


def now() -> datetime:
    """Aware UTC now (or the frozen time in tests)."""
    return _frozen if _frozen is not None else datetime.now(UTC)


@contextmanager
def frozen(at: datetime) -> Iterator[None]:
    global _frozen
    previous = _frozen
    _frozen = at if at.tzinfo else at.replace(tzinfo=UTC)
    try:
        yield
    finally:
        _frozen = previous


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; treat them as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
