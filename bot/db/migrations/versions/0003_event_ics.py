"""events.ics_vevent / ics_key: each event's serialized VEVENT, stored so a fresh process serves the feed

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable, no default: existing rows are serialized by the first feed that lists them.
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("ics_vevent", sa.Text(), nullable=True))
        batch.add_column(sa.Column("ics_key", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("ics_key")
        batch.drop_column("ics_vevent")
