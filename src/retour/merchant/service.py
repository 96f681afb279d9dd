"""Shops (with their branding), their staff and their API keys."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from retour.audit import service as audit_service
from retour.kit import clock, i18n, ids
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
_BRAND_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
_URL_FORBIDDEN = re.compile(r"[\s\\\x00-\x1f\x7f\"'<>`]")
SHOP_NAME_MAX_LENGTH = 200
LOGO_URL_MAX_LENGTH = 500
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
    logo_url: str | None = None,
) -> Merchant:
    """A new shop, with the default policy (version 1) and the usual reason codes. The colour and
    the logo are checked like ``update_branding`` checks them."""
    if not _SLUG.match(slug):
        raise InvalidInput("use lowercase letters, digits and dashes", field="slug", code="invalid_slug")
    brand_color = check_brand_color(brand_color)
    logo_url = check_logo_url(logo_url or "")
    if repository.get_by_slug(session, slug) is not None:
        raise Conflict(f"a shop with slug '{slug}' already exists", field="slug", code="slug_taken")
    merchant = Merchant(
        slug=slug,
        name=name,
        default_currency=currency,
        default_language=language,
        brand_color=brand_color,
        logo_url=logo_url,
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


# --- branding -------------------------------------------------------------------------------------


def check_brand_color(value: str) -> str:
    """``#rrggbb``, written in lowercase."""
    color = value.strip()
    if not _BRAND_COLOR.match(color):
        raise InvalidInput("the colour must be written #rrggbb", field="brand_color", code="invalid_brand_color")
    return color.lower()


def check_logo_url(value: str) -> str | None:
    """An ``https://`` address or a path on this site (``/static/logo.png``); empty means no logo.
    Anything else (``http://``, ``javascript:``, ``//host``, spaces, quotes) is refused: the portal
    shows it to every customer."""
    url = value.strip()
    if not url:
        return None
    if len(url) > LOGO_URL_MAX_LENGTH:
        raise InvalidInput(
            f"the logo address is too long ({LOGO_URL_MAX_LENGTH} characters at most)",
            field="logo_url",
            code="logo_url_too_long",
        )
    if not _URL_FORBIDDEN.search(url):
        if url.startswith("/") and not url.startswith("//"):
            return url
        parts = urlsplit(url)
        if parts.scheme == "https" and parts.hostname and url.startswith("https://"):
            return url
    raise InvalidInput(
        "the logo must be an https:// address or a path starting with /", field="logo_url", code="invalid_logo_url"
    )


def _branding_of(merchant: Merchant) -> dict[str, Any]:
    return {
        "name": merchant.name,
        "logo_url": merchant.logo_url,
        "brand_color": merchant.brand_color,
        "default_language": merchant.default_language,
    }


def update_branding(
    session: Session,
    merchant_id: int,
    *,
    name: str,
    logo_url: str,
    brand_color: str,
    default_language: str,
    actor: Actor,
) -> Merchant:
    """Change what customers see of the shop: its name, logo, colour and default language. Every
    field is checked first; a refusal (``InvalidInput`` naming the first bad field, all of them in
    ``extra["errors"]``) changes nothing. A change is audited (``merchant.branding_changed``)."""
    checked: dict[str, Any] = {}
    errors: list[InvalidInput] = []
    checks: dict[str, tuple[Callable[[str], Any], str]] = {
        "name": (_check_shop_name, name),
        "logo_url": (check_logo_url, logo_url),
        "brand_color": (check_brand_color, brand_color),
        "default_language": (_check_language, default_language),
    }
    for field, (check, value) in checks.items():
        try:
            checked[field] = check(value)
        except InvalidInput as error:
            errors.append(error)
    if errors:
        first = errors[0]
        problems = [{"field": error.field, "code": error.code, "message": error.detail} for error in errors]
        raise InvalidInput(first.detail, field=first.field, code=first.code, extra={"errors": problems})
    merchant = get_merchant(session, merchant_id)
    before = _branding_of(merchant)
    if before == checked:
        return merchant
    merchant.name = checked["name"]
    merchant.logo_url = checked["logo_url"]
    merchant.brand_color = checked["brand_color"]
    merchant.default_language = checked["default_language"]
    session.flush()
    audit_service.record(
        session,
        merchant_id=merchant_id,
        subject_type="merchant",
        subject_id=merchant_id,
        action="merchant.branding_changed",
        actor=actor,
        before={key: value for key, value in before.items() if checked[key] != value},
        after={key: value for key, value in checked.items() if before[key] != value},
    )
    return merchant


def _check_shop_name(value: str) -> str:
    name = value.strip()
    if not name:
        raise InvalidInput("give the shop a name", field="name", code="name_required")
    if len(name) > SHOP_NAME_MAX_LENGTH:
        raise InvalidInput(
            f"the name is too long ({SHOP_NAME_MAX_LENGTH} characters at most)", field="name", code="name_too_long"
        )
    return name


def _check_language(value: str) -> str:
    language = value.strip().lower()
    if language not in i18n.LANGUAGES:
        raise InvalidInput(
            f"the language must be one of {', '.join(i18n.LANGUAGES)}",
            field="default_language",
            code="invalid_language",
        )
    return language
