"""Outbox handlers of the shipment feature."""

from __future__ import annotations

from sqlalchemy.orm import Session

from retour.kit.actor import Actor
from retour.kit.errors import Refused
from retour.merchant import service as merchant_service
from retour.outbox.service import FinalError, Message
from retour.return_request import service as return_service
from retour.shipment import service, tracking

# Methods whose label needs no choice from the customer beyond the method itself.
AUTOMATIC_METHODS = frozenset({"prepaid_label", "drop_off", "customer_ships"})


def create_label_after_approval(session: Session, message: Message) -> None:
    """A return approved by a person (after review) gets its label the same way an automatically
    approved one does. Idempotent: nothing happens if the return already has a parcel or is no
    longer approved. A home pickup waits for the customer to choose a slot on the status page,
    and a return in store for the store, unless the shop has only one."""
    request = return_service.get_return(session, message.merchant_id, int(message.payload["return_id"]))
    if request.status != "approved" or service.list_shipments(session, message.merchant_id, request.id):
        return
    store_code = None
    if request.method == "in_store":
        stores = service.stores_for(session, merchant_service.get_merchant(session, message.merchant_id))
        if len(stores) != 1:
            return
        store_code = stores[0].code
    elif request.method not in AUTOMATIC_METHODS:
        return
    try:
        service.create_shipment(
            session,
            message.merchant_id,
            request,
            method=request.method,
            store_code=store_code,
            actor=Actor.system("Retour"),
        )
    except Refused as refused:
        # The carrier will refuse the same label again (an address it does not accept): dead-letter
        # at once with its reason; the shop fixes the order and replays the message. An unavailable
        # carrier (ServiceUnavailable) is retried with backoff like any other failure.
        raise FinalError(refused.detail) from refused


def buy_requested_label(session: Session, message: Message) -> None:
    """A parcel recorded for the portal gets its label from the shop's carrier. Idempotent (a
    parcel that has its label is left alone); a refusal is kept on the parcel, an outage retried."""
    service.buy_pending_label(
        session, message.merchant_id, int(message.payload["shipment_id"]), actor=Actor.system("Retour")
    )


def void_labels_of_cancelled_return(session: Session, message: Message) -> None:
    """A return cancelled from the back-office or the API voids its parcels that have not left,
    as the portal's cancel does (a label bought later would otherwise still be used)."""
    return_id = int(message.payload["return_id"])
    for parcel in service.list_shipments(session, message.merchant_id, return_id):
        if parcel.status in service.CANCELLABLE_STATUSES:
            service.cancel_shipment(session, message.merchant_id, parcel, actor=Actor.system("Retour"))


def process_carrier_webhook(session: Session, message: Message) -> None:
    """A stored carrier webhook is read: its scans move their parcels. Idempotent (a processed
    webhook is skipped)."""
    tracking.process_webhook(session, message.merchant_id, int(message.payload["inbound_webhook_id"]))
