"""shipments and photos: the parcel back (method, carrier, tracking, label) and customer photos

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:26:04.226456
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shipment",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("return_request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("carrier", sa.String(length=40), nullable=False),
        sa.Column("tracking_number", sa.String(length=60), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("label_path", sa.String(length=500), nullable=True),
        sa.Column("qr_payload", sa.String(length=500), nullable=True),
        sa.Column("pickup_date", sa.Date(), nullable=True),
        sa.Column("pickup_slot", sa.String(length=5), nullable=True),
        sa.Column("store_code", sa.String(length=40), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("label_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "method <> 'home_pickup' OR (pickup_date IS NOT NULL AND pickup_slot IS NOT NULL)",
            name=op.f("ck_shipment_home_pickup_scheduled"),
        ),
        sa.CheckConstraint(
            "method IN ('prepaid_label', 'drop_off', 'in_store', 'home_pickup', 'customer_ships')",
            name=op.f("ck_shipment_method"),
        ),
        sa.CheckConstraint(
            "pickup_slot IS NULL OR pickup_slot IN ('09-12', '13-17')", name=op.f("ck_shipment_pickup_slot")
        ),
        sa.CheckConstraint(
            "status IN ('label_created', 'in_transit', 'delivered', 'received', 'lost', 'label_expired', 'cancelled')",
            name=op.f("ck_shipment_status"),
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_shipment_merchant_id_merchant"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["return_request_id"],
            ["return_request.id"],
            name=op.f("fk_shipment_return_request_id_return_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment")),
        sa.UniqueConstraint("merchant_id", "tracking_number", name=op.f("uq_shipment_merchant_id_tracking_number")),
    )
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_shipment_merchant_id_return_request_id", ["merchant_id", "return_request_id"], unique=False
        )
        batch_op.create_index(
            "ix_shipment_merchant_id_status_created_at", ["merchant_id", "status", "created_at"], unique=False
        )

    op.create_table(
        "return_photo",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("return_request_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("return_line_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("upload_token", sa.String(length=64), nullable=True),
        sa.Column("path", sa.String(length=500), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=40), nullable=False),
        sa.Column("original_content_type", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "return_request_id IS NOT NULL OR upload_token IS NOT NULL", name=op.f("ck_return_photo_owned")
        ),
        sa.CheckConstraint(
            "width > 0 AND height > 0 AND size_bytes > 0", name=op.f("ck_return_photo_dimensions_positive")
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_return_photo_merchant_id_merchant"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["return_line_id"],
            ["return_line.id"],
            name=op.f("fk_return_photo_return_line_id_return_line"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["return_request_id"],
            ["return_request.id"],
            name=op.f("fk_return_photo_return_request_id_return_request"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_return_photo")),
    )
    with op.batch_alter_table("return_photo", schema=None) as batch_op:
        batch_op.create_index(
            "ix_return_photo_merchant_id_return_request_id", ["merchant_id", "return_request_id"], unique=False
        )
        batch_op.create_index("ix_return_photo_merchant_id_upload_token", ["merchant_id", "upload_token"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("return_photo", schema=None) as batch_op:
        batch_op.drop_index("ix_return_photo_merchant_id_upload_token")
        batch_op.drop_index("ix_return_photo_merchant_id_return_request_id")

    op.drop_table("return_photo")
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.drop_index("ix_shipment_merchant_id_status_created_at")
        batch_op.drop_index("ix_shipment_merchant_id_return_request_id")

    op.drop_table("shipment")
