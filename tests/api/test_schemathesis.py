"""Schemathesis over the whole OpenAPI description, against the ASGI app on SQLite, with a valid API
key and a shop that has orders and returns: no 5xx, and every answer (errors included) has a status,
a content type and a body that the description documents."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from retour.app import create_app
from retour.kit.actor import Actor
from retour.kit.db import make_engine, make_session_factory, unit_of_work
from retour.return_request import service as return_service
from retour.return_request.schemas import ReturnIn
from retour.settings import Settings
from tests import factories

CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.response_schema_conformance,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
]


@pytest.fixture
def seeded(sqlite_engine: Engine) -> dict[str, Any]:
    """A shop with an all-scopes key, a few delivered orders and returns (ids start at 1, which is
    where generated ids land most often)."""
    factory: sessionmaker[Any] = make_session_factory(sqlite_engine)
    with unit_of_work(factory) as session:
        merchant = factories.merchant(session)
        key = factories.api_key(session, merchant.id)
        orders = [factories.order(session, merchant.id) for _ in range(3)]
        for order in orders[:2]:
            data = ReturnIn.model_validate(
                {
                    "order_id": order.id,
                    "resolution": "refund",
                    "method": "prepaid_label",
                    "lines": [{"order_line_id": order.lines[0].id, "quantity": 1, "reason_code": "too_small"}],
                }
            )
            return_service.request_return(session, merchant.id, data, actor=Actor.system("tests"))
    return {"headers": {"Authorization": f"Bearer {key}"}}


def _describing_app() -> Any:
    """The app only for its OpenAPI description (read at collection; it never touches a database)."""
    settings = Settings(environment="test", database_url="sqlite://", in_process_worker=False)
    return create_app(settings, engine=make_engine("sqlite://"), start_worker=False)


# The coverage phase (boundaries: the largest integers, the longest strings...) on valid data only,
# and no probing of undeclared methods: that keeps the run under a minute.
CONFIG = schemathesis.Config.from_dict(
    {"phases": {"coverage": {"unexpected-methods": [], "generation": {"mode": "positive"}}}}
)
schema = schemathesis.openapi.from_asgi("/openapi.json", _describing_app(), config=CONFIG)


@pytest.fixture
def app(sqlite_engine: Engine, settings: Settings, seeded: dict[str, Any]) -> Any:
    """The app every generated request goes to, on the seeded SQLite database."""
    return create_app(settings, engine=sqlite_engine, start_worker=False)


@schema.parametrize()
@hypothesis_settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture],
)
def test_api_answers_as_documented(case: schemathesis.Case, app: Any, seeded: dict[str, Any]) -> None:
    case.call_and_validate(app=app, headers=seeded["headers"], checks=CHECKS)
