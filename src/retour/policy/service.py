"""The shop's return policy: versions, the reason tree, evaluation and dry runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from retour.audit import service as audit_service
from retour.kit import clock
from retour.kit.actor import Actor
from retour.kit.errors import InvalidInput, NotFound
from retour.models import Policy, Reason
from retour.policy import repository
from retour.policy.defaults import DEFAULT_POLICY, DEFAULT_REASONS
from retour.policy.schemas import PolicyDocument


@dataclass(frozen=True)
class ActivePolicy:
    version: int
    document: PolicyDocument
    created_at: Any


_CACHE: dict[tuple[int, int], tuple[dict[str, Any], PolicyDocument]] = {}


def parse_document(raw: dict[str, Any]) -> PolicyDocument:
    """Validate a policy document; the error names the offending field (``rules.2.when.skus``)."""
    try:
        return PolicyDocument.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "policy"
        raise InvalidInput(
            f"{field}: {first['msg']}",
            field=field,
            code="invalid_policy",
            extra={"errors": [_error_entry(item) for item in error.errors()]},
        ) from None


def _error_entry(item: Any) -> dict[str, str]:
    return {"field": ".".join(str(part) for part in item["loc"]), "message": item["msg"]}


def install_defaults(session: Session, merchant_id: int) -> None:
    """Policy version 1 and the usual reason codes for a new shop."""
    session.add(Policy(merchant_id=merchant_id, version=1, document=DEFAULT_POLICY, is_active=True))
    for position, (code, parent, label_en, label_fr, requires_photo) in enumerate(DEFAULT_REASONS):
        session.add(
            Reason(
                merchant_id=merchant_id,
                code=code,
                parent_code=parent,
                label_en=label_en,
                label_fr=label_fr,
                position=position,
                requires_photo=requires_photo,
                is_active=True,
            )
        )
    session.flush()


def get_active(session: Session, merchant_id: int) -> ActivePolicy:
    row = repository.active(session, merchant_id)
    if row is None:
        raise NotFound("this shop has no return policy")
    return ActivePolicy(row.version, _document(merchant_id, row), row.created_at)


def get_version(session: Session, merchant_id: int, version: int) -> ActivePolicy:
    row = repository.by_version(session, merchant_id, version)
    if row is None:
        raise NotFound(f"no policy version {version}")
    return ActivePolicy(row.version, _document(merchant_id, row), row.created_at)


def _document(merchant_id: int, row: Policy) -> PolicyDocument:
    # Versions never change once written, so the parsed document can be cached by version. The raw
    # document is kept and compared too: ids are only unique within one database, and one process
    # may serve several (tests and benchmarks on SQLite and PostgreSQL, a database recreated).
    key = (merchant_id, row.version)
    cached = _CACHE.get(key)
    if cached is not None and cached[0] == row.document:
        return cached[1]
    document = PolicyDocument.model_validate(row.document)
    if len(_CACHE) > 1000:
        _CACHE.clear()
    _CACHE[key] = (row.document, document)
    return document


def publish(
    session: Session, *, merchant_id: int, raw: dict[str, Any], actor: Actor, staff_id: int | None = None
) -> ActivePolicy:
    """Validate and publish a new version; the previous one stays on record for the returns it judged."""
    document = parse_document(raw)
    previous = repository.active(session, merchant_id)
    version = repository.latest_version(session, merchant_id) + 1
    repository.deactivate_all(session, merchant_id)
    row = Policy(
        merchant_id=merchant_id,
        version=version,
        document=document.model_dump(mode="json", exclude_defaults=False),
        is_active=True,
        created_by_id=staff_id,
        created_at=clock.now(),
    )
    session.add(row)
    session.flush()
    audit_service.record(
        session,
        merchant_id=merchant_id,
        subject_type="policy",
        subject_id=row.id,
        action="policy.published",
        actor=actor,
        before={"version": previous.version} if previous else None,
        after={"version": version},
    )
    return ActivePolicy(version, document, row.created_at)


def list_reasons(session: Session, merchant_id: int) -> list[Reason]:
    return repository.reasons(session, merchant_id)


def reason_ancestry(reasons: list[Reason]) -> dict[str, frozenset[str]]:
    """For each reason code: itself and its ancestors, so that a rule on ``quality`` also
    fires for ``damaged``."""
    parents = {reason.code: reason.parent_code for reason in reasons}
    ancestry: dict[str, frozenset[str]] = {}
    for code in parents:
        chain: list[str] = []
        current: str | None = code
        while current is not None and current not in chain:
            chain.append(current)
            current = parents.get(current)
        ancestry[code] = frozenset(chain)
    return ancestry
