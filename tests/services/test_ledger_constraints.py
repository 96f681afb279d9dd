"""The return line's quantity ledger is guarded by the database itself, not only by the rules:
requested > 0, requested ≥ approved ≥ received ≥ accepted + rejected, accepted ≥ restocked,
refunded + exchanged ≤ requested, nothing negative. A write that breaks it is refused with
IntegrityError naming the CHECK constraint, on SQLite and PostgreSQL, and the row keeps its values."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.actor import Actor
from retour.kit.db import begin_write, unit_of_work
from retour.models import ReturnLine
from retour.return_request import service as return_service
from retour.return_request.schemas import ReturnIn
from tests import factories

LEDGER = (
    "requested_quantity",
    "approved_quantity",
    "received_quantity",
    "accepted_quantity",
    "rejected_quantity",
    "restocked_quantity",
    "refunded_quantity",
    "exchanged_quantity",
)
# A line of 3 units, every column of the ledger in use and every limit left some room.
FULL = {
    "requested_quantity": 3,
    "approved_quantity": 3,
    "received_quantity": 3,
    "accepted_quantity": 2,
    "rejected_quantity": 1,
    "restocked_quantity": 1,
    "refunded_quantity": 1,
    "exchanged_quantity": 1,
}


@pytest.fixture
def line_id(factory: sessionmaker[Session]) -> int:
    """A committed return line of 3 units, its ledger set to ``FULL`` (a valid state)."""
    with unit_of_work(factory) as session:
        merchant = factories.merchant(session)
        ring = {
            "external_id": "l1",
            "sku": "RING-GOLD-52",
            "title": "Bague Lune or 52",
            "quantity": 3,
            "unit_price_amount": 12900,
            "tax_amount": 6450,
        }
        order = factories.order(session, merchant.id, lines=[ring], tenders=[{"kind": "card", "amount": 39190}])
        data = ReturnIn.model_validate(
            {
                "order_id": order.id,
                "resolution": "refund",
                "method": "prepaid_label",
                "lines": [{"order_line_id": order.lines[0].id, "quantity": 3, "reason_code": "too_small"}],
            }
        )
        request = return_service.request_return(session, merchant.id, data, actor=Actor.system("tests"))
        session.flush()
        found = request.lines[0].id
        session.execute(update(ReturnLine).where(ReturnLine.id == found).values(**FULL))
        return found


def _ledger(factory: sessionmaker[Session], line_id: int) -> dict[str, int]:
    with factory() as session:
        row = session.execute(select(*(getattr(ReturnLine, name) for name in LEDGER)).where(ReturnLine.id == line_id))
        return dict(zip(LEDGER, row.one(), strict=True))


def _write(factory: sessionmaker[Session], line_id: int, values: dict[str, Any]) -> None:
    with unit_of_work(factory) as session:
        session.execute(update(ReturnLine).where(ReturnLine.id == line_id).values(**values))


def test_the_full_ledger_and_its_limits_are_accepted(factory: sessionmaker[Session], line_id: int) -> None:
    assert _ledger(factory, line_id) == FULL
    at_the_limits = {"accepted_quantity": 3, "rejected_quantity": 0, "restocked_quantity": 3, "exchanged_quantity": 2}

    _write(factory, line_id, at_the_limits)

    assert _ledger(factory, line_id) == {**FULL, **at_the_limits}


@pytest.mark.parametrize(
    ("values", "constraint"),
    [
        ({"requested_quantity": 0, "approved_quantity": 0, "received_quantity": 0, "accepted_quantity": 0, "rejected_quantity": 0, "restocked_quantity": 0, "refunded_quantity": 0, "exchanged_quantity": 0}, "requested_positive"),
        ({"approved_quantity": 4}, "approved_le_requested"),
        ({"approved_quantity": -1}, "approved_le_requested"),
        ({"approved_quantity": 2}, "received_le_approved"),
        ({"accepted_quantity": -1}, "inspected_not_negative"),
        ({"rejected_quantity": -1}, "inspected_not_negative"),
        ({"accepted_quantity": 3}, "inspected_le_received"),
        ({"received_quantity": 2}, "inspected_le_received"),
        ({"restocked_quantity": 3}, "restocked_le_accepted"),
        ({"restocked_quantity": -1}, "restocked_le_accepted"),
        ({"refunded_quantity": -1}, "settled_not_negative"),
        ({"exchanged_quantity": -1}, "settled_not_negative"),
        ({"refunded_quantity": 2, "exchanged_quantity": 2}, "settled_le_requested"),
    ],
)  # fmt: skip
def test_a_write_that_breaks_the_ledger_is_refused_and_the_row_unchanged(
    factory: sessionmaker[Session], line_id: int, values: dict[str, int], constraint: str
) -> None:
    with pytest.raises(IntegrityError) as refused:
        _write(factory, line_id, values)

    assert f"ck_return_line_{constraint}" in str(refused.value.orig)
    assert _ledger(factory, line_id) == FULL


def test_the_orm_flush_is_refused_too_and_the_session_can_go_on(factory: sessionmaker[Session], line_id: int) -> None:
    """Through the ORM, as a service would write it: the savepoint is rolled back, the rest of the
    transaction still commits."""
    with factory() as session:
        begin_write(session)
        line = session.get(ReturnLine, line_id)
        assert line is not None
        with pytest.raises(IntegrityError) as refused, session.begin_nested():
            line.refunded_quantity = 3
            session.flush()
        assert "ck_return_line_settled_le_requested" in str(refused.value.orig)
        line = session.get(ReturnLine, line_id)
        assert line is not None
        line.comment = "checked"
        session.commit()

    assert _ledger(factory, line_id) == FULL
    with factory() as session:
        assert session.scalar(select(ReturnLine.comment).where(ReturnLine.id == line_id)) == "checked"
