"""All ORM models, imported here so that metadata (and Alembic) sees every table."""

from retour.models.audit import AuditEvent, IdempotencyRecord, OutboxMessage
from retour.models.base import Base
from retour.models.catalog import Product, Variant
from retour.models.inventory import InventoryMovement
from retour.models.merchant import ApiKey, Merchant, StaffUser
from retour.models.order import Customer, Order, OrderLine, Tender
from retour.models.policy import Policy, Reason
from retour.models.portal import PortalLookupFailure, PortalSession
from retour.models.resale import ResaleListing
from retour.models.return_request import OPEN_STATUSES, ReturnLine, ReturnRequest
from retour.models.shipment import InboundWebhook, ReturnPhoto, Shipment, ShipmentEvent
from retour.models.warehouse import InspectionChecklist, InspectionUnit, Receipt, ReceiptLine, StockLocation

__all__ = [
    "OPEN_STATUSES",
    "ApiKey",
    "AuditEvent",
    "Base",
    "Customer",
    "IdempotencyRecord",
    "InboundWebhook",
    "InspectionChecklist",
    "InspectionUnit",
    "InventoryMovement",
    "Merchant",
    "Order",
    "OrderLine",
    "OutboxMessage",
    "Policy",
    "PortalLookupFailure",
    "PortalSession",
    "Product",
    "Reason",
    "Receipt",
    "ReceiptLine",
    "ResaleListing",
    "ReturnLine",
    "ReturnPhoto",
    "ReturnRequest",
    "Shipment",
    "ShipmentEvent",
    "StaffUser",
    "StockLocation",
    "Tender",
    "Variant",
]
