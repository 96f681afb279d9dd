"""deferred labels: label_pending / label_failed parcels, with the carrier's refusal

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22 08:35:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = "status IN ('label_created', 'in_transit', 'delivered', 'received', 'lost', 'label_expired', 'cancelled')"
NEW = (
    "status IN ('label_pending', 'label_failed', 'label_created', 'in_transit', 'delivered', 'received',"
    " 'lost', 'label_expired', 'cancelled')"
)


def upgrade() -> None:
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failure_reason", sa.String(length=500), nullable=True))
        batch_op.drop_constraint(op.f("ck_shipment_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_shipment_status"), NEW)


def downgrade() -> None:
    op.execute("UPDATE shipment SET status = 'cancelled' WHERE status IN ('label_pending', 'label_failed')")
    with op.batch_alter_table("shipment", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_shipment_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_shipment_status"), OLD)
        batch_op.drop_column("failure_reason")
