"""Outbox handlers of the shipment feature."""

from __future__ import annotations

from sqlalchemy.orm import Session

from retour.kit.actor import Actor
from retour.kit.errors import Refused
from retour.outbox.service import FinalError, Message
from retour.return_request import service as return_service
from retour.shipment import service, tracking

# Methods whose label needs no choice from the customer beyond the method itself.
AUTOMATIC_METHODS = frozenset({"prepaid_label", "drop_off", "customer_ships"})


def create_label_after_approval(session: Session, message: Message) -> None:
    """A return approved by a person (after review) gets its label the same way an automatically
    approved one does. Idempotent: nothing happens if the return already has a parcel, is no
    longer approved, or its method needs the customer's choice (pickup slot, store)."""
    request = return_service.get_return(session, message.merchant_id, int(message.payload["return_id"]))
    if request.status != "approved" or request.method not in AUTOMATIC_METHODS:
        return
    if service.list_shipments(session, message.merchant_id, request.id):
        return
    try:
        service.create_shipment(
            session, message.merchant_id, request, method=request.method, actor=Actor.system("Retour")
        )
    except Refused as refused:
        # The carrier will refuse the same label again (an address it does not accept): dead-letter
        # at once with its reason; the shop fixes the order and replays the message. An unavailable
        # carrier (ServiceUnavailable) is retried with backoff like any other failure.
        raise FinalError(refused.detail) from refused


def process_carrier_webhook(session: Session, message: Message) -> None:
    """A stored carrier webhook is read: its scans move their parcels. Idempotent (a processed
    webhook is skipped)."""
    tracking.process_webhook(session, message.merchant_id, int(message.payload["inbound_webhook_id"]))
