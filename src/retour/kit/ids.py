"""Identifiers and secrets."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def token(nbytes: int = 24) -> str:
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def return_number(sequence: int) -> str:
    """``R-000123``: the human number of a return, per shop."""
    return f"R-{sequence:06d}"
