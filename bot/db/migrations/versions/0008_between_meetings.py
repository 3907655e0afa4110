"""Between meetings: agenda attachments, action items, network options (working-group parent,
published decisions)

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.models import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agenda_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("uploader_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("file_id", sa.String(length=256), nullable=False),
        sa.Column("file_unique_id", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["item_id"],
            ["agenda_items.id"],
            name=op.f("fk_agenda_attachments_item_id_agenda_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploader_id"],
            ["persons.id"],
            name=op.f("fk_agenda_attachments_uploader_id_persons"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agenda_attachments")),
    )
    op.create_index(op.f("ix_agenda_attachments_item_id"), "agenda_attachments", ["item_id"])
    op.create_index(op.f("ix_agenda_attachments_uploader_id"), "agenda_attachments", ["uploader_id"])
    op.create_table(
        "action_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("network_id", sa.Integer(), nullable=False),
        sa.Column("creator_id", sa.Integer(), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("owner_name", sa.String(length=128), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("done_at", UTCDateTime(), nullable=True),
        sa.Column("done_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name=op.f("fk_action_items_network_id_networks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["creator_id"],
            ["persons.id"],
            name=op.f("fk_action_items_creator_id_persons"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["persons.id"], name=op.f("fk_action_items_owner_id_persons"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["done_by"], ["persons.id"], name=op.f("fk_action_items_done_by_persons"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_items")),
    )
    op.create_index("ix_action_items_network_status", "action_items", ["network_id", "status"])
    op.create_index(op.f("ix_action_items_owner_id"), "action_items", ["owner_id"])
    op.create_table(
        "network_options",
        sa.Column("network_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("publish_decisions", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name=op.f("fk_network_options_network_id_networks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["networks.id"],
            name=op.f("fk_network_options_parent_id_networks"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("network_id", name=op.f("pk_network_options")),
    )
    op.create_index(op.f("ix_network_options_parent_id"), "network_options", ["parent_id"])


def downgrade() -> None:
    op.drop_table("network_options")
    op.drop_table("action_items")
    op.drop_table("agenda_attachments")
