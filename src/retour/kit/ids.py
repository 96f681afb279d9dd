"""Identifiers and secrets."""

from __future__ import annotations

import hashlib
import hmac
import secrets

MAX_ID = 2**63 - 1
"""The largest row id (BIGINT on PostgreSQL, INTEGER on SQLite). Every id the API accepts is bounded
by it, so that an absurd id is a 404 or a 422, never an overflow in the driver."""


def token(nbytes: int = 24) -> str:
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def return_number(sequence: int) -> str:
    """``R-000123``: the human number of a return, per shop."""
    return f"R-{sequence:06d}"
