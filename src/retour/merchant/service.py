"""Shops, their staff and their API keys."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from retour.audit import service as audit_service
from retour.kit import clock, ids
from retour.kit.actor import Actor
from retour.kit.errors import Conflict, InvalidInput, NotFound, Unauthorized
from retour.merchant import repository
from retour.models import ApiKey, Merchant, StaffUser
from retour.policy import service as policy_service

Role = Literal["admin", "agent", "warehouse"]
Scope = Literal["read", "write", "refund"]
ROLES: tuple[Role, ...] = ("admin", "agent", "warehouse")
SCOPES: tuple[Scope, ...] = ("read", "write", "refund")
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("retour-timing-equaliser")


def create_merchant(
    session: Session,
    *,
    slug: str,
    name: str,
    currency: str = "EUR",
    language: str = "fr",
    brand_color: str = "#3b4a6b",
) -> Merchant:
    """A new shop, with the default policy (version 1) and the usual reason codes."""
    if not _SLUG.match(slug):
        raise InvalidInput("use lowercase letters, digits and dashes", field="slug", code="invalid_slug")
    if repository.get_by_slug(session, slug) is not None:
        raise Conflict(f"a shop with slug '{slug}' already exists", field="slug", code="slug_taken")
    merchant = Merchant(
        slug=slug,
        name=name,
        default_currency=currency,
        default_language=language,
        brand_color=brand_color,
        settings={},
        return_sequence=0,
    )
    session.add(merchant)
    session.flush()
    policy_service.install_defaults(session, merchant.id)
    return merchant


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_staff_user(
    session: Session,
    *,
    merchant_id: int,
    email: str,
    password: str,
    role: Role,
    name: str = "",
    language: str = "fr",
) -> StaffUser:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    if len(password) < 10:
        raise InvalidInput("the password must have at least 10 characters", field="password", code="weak_password")
    email = email.strip().lower()
    if "@" not in email:
        raise InvalidInput("not an email address", field="email")
    user = StaffUser(
        merchant_id=merchant_id,
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password),
        language=language,
        is_active=True,
    )
    session.add(user)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict("this email already has an account in this shop", field="email", code="email_taken") from None
    return user


@dataclass(frozen=True)
class StaffLogin:
    user: StaffUser
    merchant: Merchant


def authenticate_staff(session: Session, *, email: str, password: str, merchant_slug: str | None = None) -> StaffLogin:
    """Check a staff login. The same answer whether the email is unknown or the password wrong."""
    candidates = repository.staff_by_email(session, email, merchant_slug or None)
    matches = [(user, merchant) for user, merchant in candidates if _verify(user.password_hash, password)]
    if not candidates:
        _verify(_DUMMY_HASH, password)
    if len(matches) != 1:
        detail = "several shops use this email: say which shop" if len(matches) > 1 else "wrong email or password"
        raise Unauthorized(detail, code="shop_required" if len(matches) > 1 else "bad_credentials")
    user, merchant = matches[0]
    return StaffLogin(user, merchant)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def get_staff(session: Session, merchant_id: int, user_id: int) -> StaffUser | None:
    user = repository.get_staff(session, merchant_id, user_id)
    return user if user is not None and user.is_active else None


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    token: str
    """The full key. Shown once, never stored."""


def create_api_key(
    session: Session,
    *,
    merchant_id: int,
    name: str,
    scopes: list[str],
    actor: Actor,
    created_by_id: int | None = None,
) -> IssuedKey:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidInput(f"scopes must be among {', '.join(SCOPES)}", field="scopes", code="invalid_scope")
    if not name.strip():
        raise InvalidInput("give the key a name", field="name")
    prefix = ids.token(9)[:12].replace("-", "x").replace("_", "y")
    secret = ids.token(32)
    key = ApiKey(
        merchant_id=merchant_id,
        name=name.strip(),
        prefix=prefix,
        secret_hash=ids.sha256_hex(secret),
        scopes=sorted(set(scopes)),
        created_by_id=created_by_id,
    )
    session.add(key)
    session.flush()
    audit_service.record(
        session,
        merchant_id=merchant_id,
        subject_type="api_key",
        subject_id=key.id,
        action="api_key.created",
        actor=actor,
        after={"name": key.name, "scopes": key.scopes, "prefix": prefix},
    )
    return IssuedKey(key, f"rtr_{prefix}_{secret}")


def revoke_api_key(session: Session, *, merchant_id: int, key_id: int, actor: Actor) -> ApiKey:
    key = repository.get_api_key(session, merchant_id, key_id)
    if key is None:
        raise NotFound("no such API key")
    if key.revoked_at is None:
        key.revoked_at = clock.now()
        audit_service.record(
            session,
            merchant_id=merchant_id,
            subject_type="api_key",
            subject_id=key.id,
            action="api_key.revoked",
            actor=actor,
            before={"revoked": False},
            after={"revoked": True},
        )
    return key


def list_api_keys(session: Session, merchant_id: int) -> list[ApiKey]:
    return repository.api_keys(session, merchant_id)


def authenticate_api_key(session: Session, token: str) -> ApiKey:
    """The live key for this token, or ``Unauthorized``. Touches ``last_used_at`` at most once a minute."""
    parts = token.split("_", 2)
    if len(parts) != 3 or parts[0] != "rtr":
        raise Unauthorized("malformed API key", code="invalid_api_key")
    key = repository.api_key_by_prefix(session, parts[1])
    if key is None or not ids.constant_time_equal(key.secret_hash, ids.sha256_hex(parts[2])):
        raise Unauthorized("unknown API key", code="invalid_api_key")
    if key.revoked_at is not None:
        raise Unauthorized("this API key was revoked", code="revoked_api_key")
    now = clock.now()
    if key.last_used_at is None or clock.as_utc(key.last_used_at) < now - timedelta(minutes=1):
        _stamp(session, key, now)
    return key


def _stamp(session: Session, key: ApiKey, now: datetime) -> None:
    """Best effort: a read request must never fail because its key could not be stamped. On SQLite
    a reader cannot become a writer once another writer committed after its first read; the stamp is
    then left to a later request."""
    try:
        with session.begin_nested():
            repository.stamp_api_key(session, key.id, now, due_before=now - timedelta(minutes=1))
    except OperationalError:
        return
    set_committed_value(key, "last_used_at", now)


def get_merchant(session: Session, merchant_id: int) -> Merchant:
    merchant = repository.get(session, merchant_id)
    if merchant is None:
        raise NotFound("no such shop")
    return merchant


def get_merchant_by_slug(session: Session, slug: str) -> Merchant:
    merchant = repository.get_by_slug(session, slug)
    if merchant is None:
        raise NotFound("no such shop")
    return merchant


def next_return_sequence(session: Session, merchant_id: int) -> int:
    """Allocate the shop's next return number. Locks the shop row until commit: call it late.
    One ``UPDATE ... RETURNING`` (not ``SELECT ... FOR UPDATE`` then ``UPDATE``): every statement
    run while the shop row is locked delays every other return of the shop."""
    return repository.increment_return_sequence(session, merchant_id)


def has_any_merchant(session: Session) -> bool:
    return repository.count(session) > 0
