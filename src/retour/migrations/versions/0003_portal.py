"""portal: sessions, lookup failures, gift recipient

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 03:31:18.110576
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "portal_lookup_failure",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("scope IN ('ip', 'order')", name=op.f("ck_portal_lookup_failure_scope")),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchant.id"],
            name=op.f("fk_portal_lookup_failure_merchant_id_merchant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_lookup_failure")),
    )
    with op.batch_alter_table("portal_lookup_failure", schema=None) as batch_op:
        batch_op.create_index(
            "ix_portal_lookup_failure_merchant_id_scope_key_created_at",
            ["merchant_id", "scope", "key", "created_at"],
            unique=False,
        )

    op.create_table(
        "portal_session",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("is_gift", sa.Boolean(), nullable=False),
        sa.Column("gift_recipient_email", sa.String(length=320), nullable=True),
        sa.Column(
            "draft", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"], ["merchant.id"], name=op.f("fk_portal_session_merchant_id_merchant"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["order.id"], name=op.f("fk_portal_session_order_id_order"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portal_session")),
        sa.UniqueConstraint("merchant_id", "token_hash", name=op.f("uq_portal_session_merchant_id_token_hash")),
    )
    with op.batch_alter_table("portal_session", schema=None) as batch_op:
        batch_op.create_index("ix_portal_session_merchant_id_expires_at", ["merchant_id", "expires_at"], unique=False)

    with op.batch_alter_table("return_request", schema=None) as batch_op:
        batch_op.add_column(sa.Column("gift_recipient_email", sa.String(length=320), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("return_request", schema=None) as batch_op:
        batch_op.drop_column("gift_recipient_email")

    with op.batch_alter_table("portal_session", schema=None) as batch_op:
        batch_op.drop_index("ix_portal_session_merchant_id_expires_at")

    op.drop_table("portal_session")
    with op.batch_alter_table("portal_lookup_failure", schema=None) as batch_op:
        batch_op.drop_index("ix_portal_lookup_failure_merchant_id_scope_key_created_at")

    op.drop_table("portal_lookup_failure")
