from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from retour.api.deps import DbSession, Reader, Writer
from retour.api.problems import responses
from retour.kit.ids import MAX_ID
from retour.order import service as order_service
from retour.policy import service
from retour.policy.schemas import PolicyDocument
from retour.return_request import service as return_service
from retour.return_request.schemas import ReturnableOut

router = APIRouter(tags=["policy"])


class PolicyOut(BaseModel):
    version: int
    document: PolicyDocument


class DryRunIn(BaseModel):
    order_id: int = Field(ge=1, le=MAX_ID)
    policy: dict[str, Any] = Field(description="a draft policy document, same shape as PUT /policy")
    reasons: dict[int, str] | None = Field(
        default=None, description="order line id → reason code, to test reason rules"
    )


class ReasonOut(BaseModel):
    code: str
    parent_code: str | None
    label_en: str
    label_fr: str
    requires_photo: bool


@router.get("/policy", response_model=PolicyOut)
def get_policy(session: DbSession, caller: Reader) -> PolicyOut:
    active = service.get_active(session, caller.merchant_id)
    return PolicyOut(version=active.version, document=active.document)


@router.put("/policy", response_model=PolicyOut, responses=responses(409))
def put_policy(raw: dict[str, Any], session: DbSession, caller: Writer) -> PolicyOut:
    """Publish a new version. Returns already requested keep the version that judged them."""
    active = service.publish(session, merchant_id=caller.merchant_id, raw=raw, actor=caller.actor)
    return PolicyOut(version=active.version, document=active.document)


@router.post("/policy/dry-run", response_model=ReturnableOut, responses=responses(404))
def dry_run(data: DryRunIn, session: DbSession, caller: Reader) -> ReturnableOut:
    """Evaluate a draft policy against an order without publishing it: which rules fire and why."""
    draft = service.parse_document(data.policy)
    order = order_service.get_order(session, caller.merchant_id, data.order_id)
    evaluation = return_service.evaluate_order(session, caller.merchant_id, order, reasons=data.reasons, draft=draft)
    return return_service.describe_evaluation(evaluation)


@router.get("/reasons", response_model=list[ReasonOut])
def reasons(session: DbSession, caller: Reader) -> list[ReasonOut]:
    return [
        ReasonOut(
            code=r.code,
            parent_code=r.parent_code,
            label_en=r.label_en,
            label_fr=r.label_fr,
            requires_photo=r.requires_photo,
        )
        for r in service.list_reasons(session, caller.merchant_id)
    ]
