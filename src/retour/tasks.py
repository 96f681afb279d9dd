"""Outbox handlers of every feature, imported once so that they register themselves.

Later features (emails, webhooks, labels) add their ``tasks`` modules here."""

from __future__ import annotations

from sqlalchemy.orm import Session

from retour.inventory import tasks as inventory_tasks  # noqa: F401  (registers its handlers)
from retour.outbox.service import Message, handler
from retour.shipment.tasks import (
    buy_requested_label,
    create_label_after_approval,
    process_carrier_webhook,
    void_labels_of_cancelled_return,
)

RETURN_TOPICS = (
    "return.requested",
    "return.rejected",
    "return.in_progress",
    "return.completed",
    "return.expired",
    "return.received",
    "return.inspected",
)
SHIPMENT_TOPICS = (
    "shipment.label_created",
    "shipment.label_failed",
    "shipment.in_transit",
    "shipment.delivered",
    "shipment.exception",
    "shipment.unexpected_scan",
    "shipment.label_expired",
    "shipment.pickup_rescheduled",
)


def _acknowledge(session: Session, message: Message) -> None:
    """Until emails and webhooks exist, return and shipment events are simply acknowledged."""


for _topic in RETURN_TOPICS + SHIPMENT_TOPICS:
    handler(_topic)(_acknowledge)
handler("return.approved")(create_label_after_approval)
handler("carrier.webhook_received")(process_carrier_webhook)
handler("shipment.label_requested")(buy_requested_label)
handler("return.cancelled")(void_labels_of_cancelled_return)
