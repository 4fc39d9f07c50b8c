"""one order per cart

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_unique_constraint("uq_orders_cart_id", "orders", ["cart_id"])


def downgrade() -> None:
    op.drop_constraint("uq_orders_cart_id", "orders", type_="unique")
