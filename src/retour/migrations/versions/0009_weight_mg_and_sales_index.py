"""catalogue weight in milligrams; order lines indexed by SKU for restock routing

Variant weights move from whole grams (``weight_grams``) to integer milligrams (``weight_mg``):
existing rows are converted (grams × 1000), so a 3 g ring stays 3 g and a 3.4 g one can now be
said. ``ix_order_line_merchant_id_sku`` serves the recent sales of a SKU (units ordered per
delivery country), which restock routing reads.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:49:50.072055
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("order_line", schema=None) as batch_op:
        batch_op.create_index("ix_order_line_merchant_id_sku", ["merchant_id", "sku", "order_id"], unique=False)

    with op.batch_alter_table("variant", schema=None) as batch_op:
        batch_op.add_column(sa.Column("weight_mg", sa.BigInteger(), nullable=True))
    op.execute("UPDATE variant SET weight_mg = weight_grams * 1000 WHERE weight_grams IS NOT NULL")
    with op.batch_alter_table("variant", schema=None) as batch_op:
        batch_op.drop_column("weight_grams")
        batch_op.create_check_constraint(op.f("ck_variant_weight_not_negative"), "weight_mg IS NULL OR weight_mg >= 0")


def downgrade() -> None:
    with op.batch_alter_table("variant", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_variant_weight_not_negative"), type_="check")
        batch_op.add_column(sa.Column("weight_grams", sa.Integer(), nullable=True))
    # Whole grams again, to the nearest gram (half up): the milligrams are lost.
    op.execute("UPDATE variant SET weight_grams = (weight_mg + 500) / 1000 WHERE weight_mg IS NOT NULL")
    with op.batch_alter_table("variant", schema=None) as batch_op:
        batch_op.drop_column("weight_mg")

    with op.batch_alter_table("order_line", schema=None) as batch_op:
        batch_op.drop_index("ix_order_line_merchant_id_sku")
