"""The settings screen: the shop's name and branding (what the portal shows customers), its API
keys (created, shown once, revoked), its carrier (secrets kept unless replaced, shown masked, with
the webhook address to give the carrier) and its return policy, shown as readable rules and
replaced by publishing a new version. Admins change; agents read. The stock locations and the
warehouse settings have their own admin pages (``location_views``, ``warehouse_settings_views``)."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from sqlalchemy.orm import Session
from starlette.responses import Response

from retour.backoffice import location_views, policy_text, warehouse_settings_views
from retour.backoffice.deps import STAFF_SESSION_KEY, CsrfChecked, DbSession, SettingsAdmin, SettingsViewer, Staff
from retour.backoffice.pages import N_, flash, gettext, language_for, render
from retour.kit import i18n
from retour.kit.errors import InvalidInput
from retour.kit.web import PathId
from retour.merchant import service as merchant_service
from retour.policy import service as policy_service
from retour.shipment import providers
from retour.shipment import service as shipment_service

router = APIRouter()
router.include_router(location_views.router)
router.include_router(warehouse_settings_views.router)
SETTINGS = "/backoffice/settings"
POLICY_MAX_LENGTH = 200_000
KEY_NAME_MAX_LENGTH = 200
CARRIER_FIELD_MAX_LENGTH = 500
# The carriers' webhook route (``retour.shipment.endpoints.WEBHOOK_PATH``, which pages may not import).
CARRIER_WEBHOOK_PATH = "/webhooks/carriers/{provider}/{slug}"
CARRIER_FIELDS = {
    "provider": N_("Carrier"),
    "api_key": N_("API key"),
    "webhook_secret": N_("Webhook secret"),
    "preferred_service": N_("Preferred service"),
    "tracking_carrier": N_("Tracking carrier"),
}

SHOP_ERRORS = {
    "name_required": N_("Shop name: give the shop a name."),
    "name_too_long": N_("Shop name: too long (200 characters at most)."),
    "invalid_logo_url": N_("Logo URL: give an address starting with https:// or a path on this site starting with /."),
    "logo_url_too_long": N_("Logo URL: too long (500 characters at most)."),
    "invalid_brand_color": N_("Brand colour: write it as # and six hexadecimal digits, e.g. #1a5e3a."),
    "invalid_language": N_("Default language: choose French or English."),
}
LANGUAGE_NAMES = {"fr": N_("French"), "en": N_("English")}
SHOP_FIELD_MAX_LENGTH = 1000


@router.get("/settings")
def settings_page(request: Request, session: DbSession, staff: SettingsViewer) -> Response:
    return _render(request, session, staff)


@router.post("/settings/shop")
def save_shop(
    request: Request,
    session: DbSession,
    staff: SettingsAdmin,
    _csrf: CsrfChecked,
    name: Annotated[str, Form()] = "",
    logo_url: Annotated[str, Form()] = "",
    brand_color: Annotated[str, Form()] = "",
    default_language: Annotated[str, Form()] = "",
) -> Response:
    """Change the shop's name, logo, colour and default language. A refused field is named on the
    page with what was typed, and nothing changes."""
    # Over-long values are refused by the service; cut them so that they are not echoed whole.
    fields = {
        "name": name[:SHOP_FIELD_MAX_LENGTH],
        "logo_url": logo_url[:SHOP_FIELD_MAX_LENGTH],
        "brand_color": brand_color[:SHOP_FIELD_MAX_LENGTH],
        "default_language": default_language[:SHOP_FIELD_MAX_LENGTH],
    }
    try:
        merchant = merchant_service.update_branding(session, staff.merchant_id, **fields, actor=staff.actor)
    except InvalidInput as error:
        problems = error.extra.get("errors") or [{"field": error.field, "code": error.code}]
        messages = {
            str(problem["field"]): gettext(request, SHOP_ERRORS.get(str(problem["code"]), error.detail))
            for problem in problems
        }
        return _render(request, session, staff, shop_form={**fields, "errors": messages}, status_code=422)
    signed = request.session.get(STAFF_SESSION_KEY)
    if isinstance(signed, dict):
        request.session[STAFF_SESSION_KEY] = {**signed, "shop_name": merchant.name}
    flash(request, gettext(request, N_("The shop's name and branding are saved.")))
    return RedirectResponse(f"{SETTINGS}#shop", status_code=303)


@router.post("/settings/api-keys")
def create_api_key(
    request: Request,
    session: DbSession,
    staff: SettingsAdmin,
    _csrf: CsrfChecked,
    name: Annotated[str, Form()] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """The full key is in this one response and nowhere else (only its hash is stored)."""
    try:
        if len(name.strip()) > KEY_NAME_MAX_LENGTH:
            raise InvalidInput(
                f"the name is too long ({KEY_NAME_MAX_LENGTH} characters at most)", field="name", code="name_too_long"
            )
        issued = merchant_service.create_api_key(
            session,
            merchant_id=staff.merchant_id,
            name=name,
            scopes=scopes or [],
            actor=staff.actor,
            created_by_id=staff.user_id,
        )
    except InvalidInput as error:
        form = {"name": name, "scopes": scopes or [], "error": _key_error(request, error)}
        return _render(request, session, staff, key_form=form, status_code=422)
    return render(request, "backoffice/api_key_created.html", {"section": "settings", "issued": issued}, staff=staff)


def _key_error(request: Request, error: InvalidInput) -> str:
    if error.field == "scopes":
        return gettext(request, N_("Choose at least one scope."))
    if error.code == "name_too_long":
        return gettext(request, N_("The name is too long (200 characters at most)."))
    if error.field == "name":
        return gettext(request, N_("Give the key a name."))
    return gettext(request, error.detail)


@router.post("/settings/api-keys/{key_id:int}/revoke")
def revoke_api_key(
    request: Request, key_id: PathId, session: DbSession, staff: SettingsAdmin, _csrf: CsrfChecked
) -> RedirectResponse:
    key = merchant_service.revoke_api_key(session, merchant_id=staff.merchant_id, key_id=key_id, actor=staff.actor)
    flash(request, gettext(request, N_("The key “%(name)s” is revoked: it no longer works."), name=key.name))
    return RedirectResponse(SETTINGS, status_code=303)


@router.post("/settings/carrier")
def save_carrier(
    request: Request,
    session: DbSession,
    staff: SettingsAdmin,
    _csrf: CsrfChecked,
    provider: Annotated[str, Form()] = "",
    api_key: Annotated[str, Form()] = "",
    webhook_secret: Annotated[str, Form()] = "",
    preferred_service: Annotated[str, Form()] = "",
    tracking_carrier: Annotated[str, Form()] = "",
) -> Response:
    """Choose the shop's carrier. An empty secret keeps the current one (they are never shown
    back); a real carrier without an API key is refused, shown back, and nothing changes."""
    fields = {
        "provider": provider.strip(),
        "api_key": api_key.strip(),
        "webhook_secret": webhook_secret.strip(),
        "preferred_service": preferred_service.strip(),
        "tracking_carrier": tracking_carrier.strip(),
    }
    try:
        for name, value in fields.items():
            if len(value) > CARRIER_FIELD_MAX_LENGTH:
                raise InvalidInput(f"{name} is too long", field=name, code="too_long")
        shipment_service.set_carrier_settings(
            session,
            staff.merchant_id,
            provider=fields["provider"],
            api_key=fields["api_key"] or None,
            webhook_secret=fields["webhook_secret"] or None,
            preferred_service=fields["preferred_service"],
            tracking_carrier=fields["tracking_carrier"],
            actor=staff.actor,
        )
    except InvalidInput as error:
        # The secrets typed are not sent back into the page.
        form = {
            "provider": fields["provider"],
            "preferred_service": fields["preferred_service"],
            "tracking_carrier": fields["tracking_carrier"],
            "field": error.field,
            "error": _carrier_error(request, error),
        }
        return _render(request, session, staff, carrier_form=form, status_code=422)
    flash(request, gettext(request, N_("The carrier settings are saved.")))
    return RedirectResponse(f"{SETTINGS}#carrier", status_code=303)


def _carrier_error(request: Request, error: InvalidInput) -> str:
    if error.code == "api_key_required":
        return gettext(request, N_("API key: this carrier needs your account's API key."))
    if error.code == "invalid_provider":
        return gettext(request, N_("Carrier: choose one of the carriers offered."))
    if error.code == "too_long":
        field = gettext(request, CARRIER_FIELDS.get(error.field or "", error.field or ""))
        return gettext(
            request, N_("%(field)s: too long (%(max)s characters at most)."), field=field, max=CARRIER_FIELD_MAX_LENGTH
        )
    return gettext(request, error.detail)


@router.post("/settings/policy")
def publish_policy(
    request: Request,
    session: DbSession,
    staff: SettingsAdmin,
    _csrf: CsrfChecked,
    document: Annotated[str, Form()] = "",
) -> Response:
    """Publish a new version of the policy; returns keep the version that judged them. A document
    that does not validate is shown back with the offending fields, and nothing is published."""
    try:
        raw = _parse_json(document)
        published = policy_service.publish(
            session, merchant_id=staff.merchant_id, raw=raw, actor=staff.actor, staff_id=staff.user_id
        )
    except InvalidInput as error:
        problems = error.extra.get("errors") or [{"field": error.field or "policy", "message": error.detail}]
        form = {"document": document, "errors": problems}
        return _render(request, session, staff, policy_form=form, status_code=422)
    flash(request, gettext(request, N_("Policy version %(version)s is published."), version=published.version))
    return RedirectResponse(SETTINGS, status_code=303)


def _parse_json(text: str) -> dict[str, Any]:
    if len(text) > POLICY_MAX_LENGTH:
        raise InvalidInput("the policy is too long", field="policy")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(
            f"not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})", field="policy"
        ) from None
    if not isinstance(raw, dict):
        raise InvalidInput("the policy must be a JSON object with 'defaults' and 'rules'", field="policy")
    return raw


def _render(
    request: Request,
    session: Session,
    staff: Staff,
    *,
    key_form: dict[str, Any] | None = None,
    policy_form: dict[str, Any] | None = None,
    carrier_form: dict[str, Any] | None = None,
    shop_form: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    language = language_for(request)
    merchant = merchant_service.get_merchant(session, staff.merchant_id)
    active = policy_service.get_active(session, staff.merchant_id)
    reasons = policy_service.list_reasons(session, staff.merchant_id)
    reason_labels = {reason.code: reason.label_fr if language == "fr" else reason.label_en for reason in reasons}
    translate = partial(gettext, request)
    current = json.dumps(active.document.model_dump(mode="json", exclude_none=True), indent=2, ensure_ascii=False)
    context = {
        "section": "settings",
        "settings_page": "general",
        "merchant": merchant,
        "shop_form": shop_form
        or {
            "name": merchant.name,
            "logo_url": merchant.logo_url or "",
            "brand_color": merchant.brand_color,
            "default_language": merchant.default_language,
            "errors": {},
        },
        "shop_languages": {code: LANGUAGE_NAMES.get(code, code) for code in i18n.LANGUAGES},
        "keys": merchant_service.list_api_keys(session, staff.merchant_id),
        "scopes": merchant_service.SCOPES,
        "key_form": key_form or {"name": "", "scopes": ["read"], "error": None},
        "policy": active,
        "policy_defaults": policy_text.describe_defaults(
            active.document.defaults, merchant.default_currency, language, translate
        ),
        "policy_rules": policy_text.describe_rules(
            active.document, merchant.default_currency, language, translate, reason_labels
        ),
        "policy_form": policy_form or {"document": current, "errors": []},
        **_carrier_context(request, session, staff, merchant.slug, carrier_form),
    }
    return render(request, "backoffice/settings.html", context, staff=staff, status_code=status_code)


def _carrier_context(
    request: Request, session: Session, staff: Staff, slug: str, form: dict[str, Any] | None
) -> dict[str, Any]:
    carrier = shipment_service.carrier_settings(session, staff.merchant_id)
    base = str(request.app.state.settings.base_url or request.base_url).rstrip("/")
    webhook_url = (
        base + CARRIER_WEBHOOK_PATH.format(provider=carrier.provider, slug=slug)
        if carrier.provider != "builtin"
        else None
    )
    return {
        "carrier": carrier.public(),
        "carrier_providers": providers.PROVIDERS,
        "carrier_webhook_url": webhook_url,
        "carrier_form": form
        or {
            "provider": carrier.provider,
            "preferred_service": carrier.preferred_service,
            "tracking_carrier": carrier.tracking_carrier,
        },
    }
