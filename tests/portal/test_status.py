"""C6/C8: the status page behind its long-lived signed link, cancelling, and the documents."""

from __future__ import annotations

import html
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from retour.kit.db import unit_of_work
from retour.models import InspectionUnit, ReturnLine, ReturnRequest, Shipment
from retour.policy import service as policy_service
from retour.policy.defaults import DEFAULT_POLICY
from retour.portal import status
from retour.receiving import inspection
from retour.receiving import service as receiving_service
from retour.return_request import service as return_service
from tests.portal.conftest import choose, confirm, csrf, open_order, options
from tests.warehouse.builders import STAFF
from tests.warehouse.test_inspection import JEWELRY_OK

SECRET = "test-secret-key-that-is-long-enough-0123456789"


def _new_return(client: TestClient, shop: dict[str, Any], method: str = "prepaid_label") -> str:
    open_order(client, shop)
    choose(client, shop, {shop["lines"][0]: {"quantity": "1", "reason": "too_small"}})
    options(client, shop, resolution="refund", method=method)
    return str(confirm(client, shop).url.path)


def test_the_signed_link_works_without_a_session(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    link = _new_return(client, portal_shop)
    with unit_of_work(factory, write=False) as session:
        created = session.scalars(select(ReturnRequest)).one()
    assert link == f"/s/{portal_shop['slug']}/r/{status.status_token(SECRET, portal_shop['id'], created.id)}"
    with TestClient(client.app, headers={"Accept-Language": "en"}) as stranger:
        page = stranger.get(link)
        assert page.status_code == 200
        assert f"Return {created.number}" in page.text
        assert "Requested" in page.text and "Label created" in page.text
        assert page.text.count('class="done"') == 3  # requested, approved, label created
        assert "€129.00" in page.text
        assert "Download the label (PDF)" in page.text
        label = stranger.get(f"{link}/label.pdf")
        assert label.status_code == 200
        assert label.headers["content-type"] == "application/pdf"
        assert label.content.startswith(b"%PDF")
        slip = stranger.get(f"{link}/packing-slip.pdf")
        assert slip.status_code == 200 and slip.content.startswith(b"%PDF")


def test_tampered_or_foreign_tokens_are_not_found(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    link = _new_return(client, portal_shop)
    token = link.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/s/{portal_shop['slug']}/r/{tampered}").status_code == 404
    assert client.get(f"/s/{portal_shop['slug']}/r/{tampered}/label.pdf").status_code == 404
    assert client.get(f"/s/{portal_shop['slug']}/r/not-a-token").status_code == 404
    with unit_of_work(factory, write=False) as session:
        created = session.scalars(select(ReturnRequest)).one()
    other_secret = status.status_token("another-secret-0123456789-0123456789", portal_shop["id"], created.id)
    assert client.get(f"/s/{portal_shop['slug']}/r/{other_secret}").status_code == 404
    other_shop = status.status_token(SECRET, portal_shop["id"] + 1000, created.id)
    assert client.get(f"/s/{portal_shop['slug']}/r/{other_shop}").status_code == 404
    nowhere = status.status_token(SECRET, portal_shop["id"], created.id + 1000)
    assert client.get(f"/s/{portal_shop['slug']}/r/{nowhere}").status_code == 404


def test_cancel_before_the_parcel_leaves(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    client.headers.update({"Accept-Language": "en"})
    link = _new_return(client, portal_shop)
    page = client.get(link)
    cancelled = client.post(f"{link}/cancel", data={"csrf_token": csrf(page.text)})
    assert cancelled.status_code == 200
    assert "Your return has been cancelled." in cancelled.text
    assert "Cancel this return" not in cancelled.text
    with unit_of_work(factory, write=False) as session:
        assert session.scalars(select(ReturnRequest.status)).one() == "cancelled"
        assert session.scalars(select(Shipment.status)).one() == "cancelled"
    # The ring can be returned again.
    order_page = client.get(f"/s/{portal_shop['slug']}/orders/{portal_shop['order_id']}")
    assert "Returnable: 2" in order_page.text


def test_cancel_is_refused_politely_once_shipped(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    client.headers.update({"Accept-Language": "en"})
    link = _new_return(client, portal_shop)
    page = client.get(link)
    assert "Cancel this return" in page.text
    with unit_of_work(factory) as session:
        session.scalars(select(Shipment)).one().status = "in_transit"
    refused = client.post(f"{link}/cancel", data={"csrf_token": csrf(page.text)})
    assert refused.status_code == 409
    assert "already on its way" in refused.text
    assert "Cancel this return" not in refused.text
    assert refused.text.count('class="done"') == 4  # ... and in transit
    with unit_of_work(factory, write=False) as session:
        assert session.scalars(select(ReturnRequest.status)).one() == "approved"


def _receive_and_inspect(factory: sessionmaker[Session], merchant_id: int) -> None:
    """Both rings and the necklace arrive with an item nobody expected; one ring passes, the other
    does not match the sale record, the stranger is refused, the necklace waits."""
    with unit_of_work(factory) as session:
        request = session.scalars(select(ReturnRequest)).one()
        lines = {line.order_line_id: line.id for line in session.scalars(select(ReturnLine))}
        ring, necklace = sorted(lines)
        receipt = receiving_service.receive_parcel(
            session,
            merchant_id,
            request.id,
            lines=[(lines[ring], 2), (lines[necklace], 1)],
            unexpected=[("MYSTERY-01", 1)],
            actor=STAFF,
        )
        units = receiving_service.describe_receipt(session, merchant_id, receipt).units
    ring_units = [unit.id for unit in units if unit.sku == "RING-GOLD-52"]
    stranger = next(unit.id for unit in units if unit.sku == "MYSTERY-01")
    verdicts = [
        (ring_units[0], "new", JEWELRY_OK),
        (ring_units[1], "used", {**JEWELRY_OK, "authenticity": False}),
        (stranger, "wrong_item", {}),
    ]
    for unit_id, grade, answers in verdicts:
        with unit_of_work(factory) as session:
            inspection.record_inspection(session, merchant_id, unit_id, grade=grade, answers=answers, actor=STAFF)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            [
                "What our warehouse found",
                "Received: 2 · Accepted: 1 · Refused: 1</span>",
                "<li>Refused (1): The piece returned does not match the one we sold "
                "(reference, hallmark or stones differ).</li>",
                "Received: 1 · Being inspected: 1</span>",
                "Found in your parcel but not part of this return.",
                "<li>Refused (1): This item is not part of the return.</li>",
            ],
        ),
        (
            "fr",
            [
                "Ce que notre entrepôt a constaté",
                "Reçu(s) : 2 · Accepté(s) : 1 · Refusé(s) : 1</span>",
                "<li>Refusé(s) (1) : La pièce retournée ne correspond pas à celle vendue "
                "(référence, poinçon ou pierres différents).</li>",
                "Reçu(s) : 1 · En cours de contrôle : 1</span>",
                "Trouvé dans votre colis mais ne faisant pas partie de ce retour.",
                "<li>Refusé(s) (1) : Cet article ne fait pas partie du retour.</li>",
            ],
        ),
    ],
)
def test_the_status_page_tells_what_inspection_decided_per_line(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session], language: str, expected: list[str]
) -> None:
    open_order(client, portal_shop)
    ring, necklace = portal_shop["lines"]
    choose(
        client,
        portal_shop,
        {ring: {"quantity": "2", "reason": "too_small"}, necklace: {"quantity": "1", "reason": "changed_mind"}},
    )
    options(client, portal_shop, resolution="refund", method="prepaid_label")
    link = str(confirm(client, portal_shop).url.path)
    before = client.get(f"{link}?lang={language}")
    assert 'class="card inspection"' not in before.text
    _receive_and_inspect(factory, portal_shop["id"])
    page = client.get(f"{link}?lang={language}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    for sentence in expected:
        assert sentence in text
    section = text[text.index('class="card inspection"') :]
    assert section.index("Bague Lune or 52") < section.index("Collier Étoile argent") < section.index("MYSTERY-01")
    assert section.count("<li>Refus") == 2  # the accepted ring and the waiting necklace carry no reason


def test_inspection_outcomes_count_each_reason_once_per_line() -> None:
    reason = {"rule_id": "checklist_clasp", "en": "The clasp is broken.", "fr": "Le fermoir est cassé."}
    weight = {"rule_id": "weight", "en": "Too light.", "fr": "Trop léger."}
    request = ReturnRequest(
        lines=[ReturnLine(id=7, order_line_id=70, received_quantity=4, accepted_quantity=1, rejected_quantity=3)]
    )
    described = type("Described", (), {"lines": [type("Line", (), {"id": 7, "title": "Bague"})()]})()
    units = [
        InspectionUnit(return_line_id=7, sku="R", accepted=False, rejection_reason=reason),
        InspectionUnit(return_line_id=7, sku="R", accepted=True, rejection_reason=None),
        InspectionUnit(return_line_id=7, sku="R", accepted=False, rejection_reason=weight),
        InspectionUnit(return_line_id=7, sku="R", accepted=False, rejection_reason=reason),
    ]
    lines, unexpected = status.inspection_outcomes(request, described, units)  # type: ignore[arg-type]
    assert lines == [
        status.LineInspection(
            70,
            "Bague",
            4,
            1,
            3,
            [
                status.Rejection("The clasp is broken.", "Le fermoir est cassé.", 2),
                status.Rejection("Too light.", "Trop léger.", 1),
            ],
        )
    ]
    assert lines[0].awaiting == 0
    assert unexpected == []


@pytest.mark.parametrize(
    ("language", "keep", "mail"),
    [
        ("en", "Keep the link to this page: it shows your return, its documents and where it stands", "email"),
        ("fr", "Gardez le lien de cette page : il affiche votre retour, ses documents et où il en est", "e-mail"),
    ],
)
def test_a_new_return_gives_its_link_and_promises_no_email(
    client: TestClient, portal_shop: dict[str, Any], language: str, keep: str, mail: str
) -> None:
    client.get(f"/s/{portal_shop['slug']}/?lang={language}")
    link = _new_return(client, portal_shop)
    page = client.get(f"{link}?new=1")
    text = html.unescape(page.text)
    assert keep in text
    kept = f"http://testserver{link}?lang={language}"
    assert f'<a href="{kept}">{kept}</a>' in text
    with TestClient(client.app, headers={"Accept-Language": "en" if language == "fr" else "fr"}) as elsewhere:
        assert elsewhere.get(kept).headers["content-language"] == language
    assert mail not in text.lower()


def test_a_return_waiting_for_review_or_refused_promises_no_email(
    client: TestClient, portal_shop: dict[str, Any], factory: sessionmaker[Session]
) -> None:
    with unit_of_work(factory) as session:
        document = {
            "defaults": DEFAULT_POLICY["defaults"],
            "rules": [
                {"id": "review", "name": {"en": "Review", "fr": "Examen"}, "when": {}, "then": {"manual_review": True}}
            ],
        }
        policy_service.publish(session, merchant_id=portal_shop["id"], raw=document, actor=STAFF)
    client.headers.update({"Accept-Language": "en"})
    link = _new_return(client, portal_shop)
    waiting = html.unescape(client.get(link).text)
    assert "Once it is approved, the label will appear on this page: come back to it with its link." in waiting
    assert "email" not in waiting.lower()
    with unit_of_work(factory) as session:
        request = session.scalars(select(ReturnRequest)).one()
        return_service.reject_return(session, portal_shop["id"], request.id, actor=STAFF, note="Worn jewellery.")
    refused = html.unescape(client.get(link).text)
    assert "This return was refused" in refused
    assert "If you have a question, contact Maison Lune." in refused
    assert "email" not in refused.lower()


def _pdf_text(content: bytes) -> str:
    return " ".join(PdfReader(io.BytesIO(content)).pages[0].extract_text().split())


@pytest.mark.parametrize(
    ("language", "label_words", "slip_words"),
    [
        ("en", "RETURN NUMBER", ["Return packing slip", "Reason", "Too small"]),
        ("fr", "N° DE RETOUR", ["Bordereau de retour", "Motif", "Trop petit"]),
    ],
)
def test_the_label_and_the_packing_slip_speak_the_language_the_customer_confirmed_in(
    client: TestClient, portal_shop: dict[str, Any], language: str, label_words: str, slip_words: list[str]
) -> None:
    # The shop and the order are French; the browser asks for the other language, the customer
    # picks ``language`` on the portal.
    client.headers.update({"Accept-Language": "fr" if language == "en" else "en"})
    client.get(f"/s/{portal_shop['slug']}/?lang={language}")
    link = _new_return(client, portal_shop)
    label = client.get(f"{link}/label.pdf")
    assert label.status_code == 200
    assert label_words in _pdf_text(label.content)
    # The kept link, opened in a browser that asks for the other language, still gives the slip
    # in the language of the confirmation.
    with TestClient(client.app, headers={"Accept-Language": "fr" if language == "en" else "en"}) as elsewhere:
        elsewhere.get(f"{link}?lang={language}")
        slip = _pdf_text(elsewhere.get(f"{link}/packing-slip.pdf").content)
    for words in slip_words:
        assert words in slip
    assert "too_small" not in slip
