"""networks.require_approval; events.announcement and events.announce_chat_id: announcement caps and
coordinators' approval of members' events (issue 15)

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("networks") as batch:
        batch.add_column(
            sa.Column("require_approval", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    # Existing events were announced when they were created.
    with op.batch_alter_table("events") as batch:
        batch.add_column(
            sa.Column("announcement", sa.String(length=16), nullable=False, server_default="announced")
        )
        batch.add_column(sa.Column("announce_chat_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("announce_chat_id")
        batch.drop_column("announcement")
    with op.batch_alter_table("networks") as batch:
        batch.drop_column("require_approval")
