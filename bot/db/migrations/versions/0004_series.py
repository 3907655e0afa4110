"""series: repeating events and meeting series; events.series_id / recurrence_at, meetings.series_id

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=True),
        sa.Column("rrule", sa.String(length=300), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("dtstart", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("place", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("horizon_until", bot.db.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", bot.db.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["creator_id"], ["persons.id"], name=op.f("fk_series_creator_id_persons"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["network_id"], ["networks.id"], name=op.f("fk_series_network_id_networks"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series")),
    )
    op.create_index(op.f("ix_series_network_id"), "series", ["network_id"], unique=False)
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("series_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("recurrence_at", bot.db.models.UTCDateTime(timezone=True), nullable=True))
        batch.create_foreign_key(
            op.f("fk_events_series_id_series"), "series", ["series_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index("ix_events_series_start", ["series_id", "starts_at"], unique=False)
        batch.create_unique_constraint("uq_events_series_recurrence", ["series_id", "recurrence_at"])
    with op.batch_alter_table("meetings") as batch:
        batch.add_column(sa.Column("series_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            op.f("fk_meetings_series_id_series"), "series", ["series_id"], ["id"], ondelete="SET NULL"
        )
        batch.create_index(op.f("ix_meetings_series_id"), ["series_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("meetings") as batch:
        batch.drop_index(op.f("ix_meetings_series_id"))
        batch.drop_constraint(op.f("fk_meetings_series_id_series"), type_="foreignkey")
        batch.drop_column("series_id")
    with op.batch_alter_table("events") as batch:
        batch.drop_constraint("uq_events_series_recurrence", type_="unique")
        batch.drop_index("ix_events_series_start")
        batch.drop_constraint(op.f("fk_events_series_id_series"), type_="foreignkey")
        batch.drop_column("recurrence_at")
        batch.drop_column("series_id")
    op.drop_table("series")
