"""chat_send_slots: Telegram's per-chat limits shared by instances on PostgreSQL

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "chat_send_slots",
        sa.Column("chat_key", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("slot", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("chat_key", "slot", name=op.f("pk_chat_send_slots")),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Short-lived counters: no need to write them to the WAL.
        op.execute("ALTER TABLE chat_send_slots SET UNLOGGED")


def downgrade() -> None:
    op.drop_table("chat_send_slots")
