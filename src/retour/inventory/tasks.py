"""Outbox handlers of inventory messages. ``inventory.restocked`` and ``inventory.written_off``
carry the SKU, the location and the units moved, for a shop-platform sync to push the new
sellable quantity; until such a sync exists they are acknowledged (the quantity in Retour has
already moved, in the transaction that wrote the message)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from retour.inventory.service import RESTOCKED, WRITTEN_OFF
from retour.outbox.service import Message, handler

TOPICS = (RESTOCKED, WRITTEN_OFF)


def acknowledge_stock_change(session: Session, message: Message) -> None:
    """Nothing to call yet: no shop platform adapter pushes stock."""


for _topic in TOPICS:
    handler(_topic)(acknowledge_stock_change)
