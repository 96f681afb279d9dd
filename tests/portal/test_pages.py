"""Pure pieces of the portal pages: readable brand colours, the French catalog is complete, and
the progress steps of a return."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st
from jinja2.ext import babel_extract

from retour.kit import i18n
from retour.models import ReturnLine, ReturnRequest, Shipment
from retour.portal import pages, status, views

TEMPLATES = Path(pages.__file__).resolve().parent.parent / "templates" / "portal"


@given(st.from_regex(r"#[0-9a-f]{6}", fullmatch=True))
def test_brand_colours_are_made_readable(colour: str) -> None:
    readable = pages.readable_on_white(colour)
    assert pages.contrast_with_white(readable) >= 4.5
    if pages.contrast_with_white(colour) >= 4.5:
        assert readable == colour  # a dark enough colour is left alone


def test_short_hex_and_bad_colours() -> None:
    assert pages.readable_on_white("#fff") != "#fff"
    assert pages.contrast_with_white(pages.readable_on_white("#ffff00")) >= 4.5


def _portal_messages() -> set[str]:
    found: set[str] = set()
    for path in TEMPLATES.glob("*.html"):
        with path.open("rb") as handle:
            for _line, _function, message, _comments in babel_extract(
                handle, ["_", "gettext"], [], {"extensions": "jinja2.ext.i18n"}
            ):
                if isinstance(message, str):
                    found.add(message)
                elif message:
                    found.update(m for m in message if m)
    for labels in (*pages.LABELS.values(), pages.PROBLEM_MESSAGES, views.TITLES):
        found.update(labels.values())
    return found


def test_every_portal_message_has_a_french_translation() -> None:
    with (i18n.LOCALE_DIR / "fr" / "LC_MESSAGES" / "portal.po").open("rb") as handle:
        catalog = read_po(handle, locale="fr")
    translated = {str(message.id) for message in catalog if message.id and message.string}
    missing = sorted(_portal_messages() - translated)
    assert missing == []


def _return(**line_quantities: int) -> ReturnRequest:
    quantities = {
        name: line_quantities.get(name, 0)
        for name in (
            "received_quantity",
            "accepted_quantity",
            "rejected_quantity",
            "restocked_quantity",
            "refunded_quantity",
            "exchanged_quantity",
        )
    }
    created = datetime(2026, 11, 2, 10, tzinfo=UTC)
    return ReturnRequest(
        status="approved",
        resolution="refund",
        created_at=created,
        approved_at=created,
        lines=[ReturnLine(requested_quantity=1, approved_quantity=1, **quantities)],
    )


def test_progress_from_events_and_quantities() -> None:
    parcel = Shipment(status="label_created", created_at=datetime(2026, 11, 2, 10, 5, tzinfo=UTC))
    steps = status.progress(_return(received_quantity=0), parcel, [])
    assert [(step.code, step.done) for step in steps] == [
        ("requested", True),
        ("approved", True),
        ("label_created", True),
        ("in_transit", False),
        ("delivered", False),
        ("received", False),
        ("inspected", False),
        ("settled", False),
    ]
    # A received and inspected line proves the parcel travelled, even without a tracking event.
    steps = status.progress(_return(received_quantity=1, accepted_quantity=1), parcel, [])
    assert [step.code for step in steps if step.done] == [
        "requested",
        "approved",
        "label_created",
        "in_transit",
        "delivered",
        "received",
        "inspected",
    ]
    refunded_at = datetime(2026, 11, 9, tzinfo=UTC)
    steps = status.progress(_return(), None, [("refund.succeeded", refunded_at)])
    assert steps[-1].done and steps[-1].at == refunded_at
