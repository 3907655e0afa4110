"""send_slots: Telegram's global send budget shared by instances on PostgreSQL

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "send_slots",
        sa.Column("slot", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("slot", name=op.f("pk_send_slots")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Short-lived counters: no need to write them to the WAL.
        op.execute("ALTER TABLE send_slots SET UNLOGGED")


def downgrade() -> None:
    op.drop_table("send_slots")
