"""Help (event tasks and their helpers), places with a waiting list and guests, interpreter requests
and confirmations (issue 13)

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("needed", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name="fk_event_tasks_event_id_events", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["persons.id"], name="fk_event_tasks_created_by_persons", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_event_tasks"),
    )
    op.create_index("ix_event_tasks_event_id", "event_tasks", ["event_id"])
    op.create_table(
        "task_helpers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_id"], ["event_tasks.id"], name="fk_task_helpers_task_id_event_tasks", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_task_helpers_person_id_persons", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_task_helpers"),
        sa.UniqueConstraint("task_id", "person_id", name="uq_task_helpers_task_id"),
    )
    op.create_index("ix_task_helpers_task_id", "task_helpers", ["task_id"])
    op.create_index("ix_task_helpers_person_id", "task_helpers", ["person_id"])
    op.create_table(
        "event_places",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("places", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name="fk_event_places_event_id_events", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("event_id", name="pk_event_places"),
    )
    op.create_table(
        "event_guests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name="fk_event_guests_event_id_events", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["added_by"], ["persons.id"], name="fk_event_guests_added_by_persons", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_event_guests"),
    )
    op.create_index("ix_event_guests_event_id", "event_guests", ["event_id"])
    op.create_table(
        "waiting_list",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=True),
        sa.Column("guest_name", sa.String(length=100), nullable=True),
        sa.Column("added_by", sa.Integer(), nullable=True),
        sa.Column("press_key", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name="fk_waiting_list_event_id_events", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["persons.id"], name="fk_waiting_list_person_id_persons", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["added_by"], ["persons.id"], name="fk_waiting_list_added_by_persons", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_waiting_list"),
        sa.UniqueConstraint("event_id", "person_id", name="uq_waiting_list_event_id"),
    )
    op.create_index("ix_waiting_list_event_key", "waiting_list", ["event_id", "press_key"])
    op.create_table(
        "interpreter_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["persons.id"],
            name="fk_interpreter_requests_person_id_persons",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_interpreter_requests"),
        sa.UniqueConstraint("subject", "subject_id", "person_id", name="uq_interpreter_requests_subject"),
    )
    op.create_index("ix_interpreter_requests_subject_id", "interpreter_requests", ["subject_id"])
    op.create_index("ix_interpreter_requests_person_id", "interpreter_requests", ["person_id"])
    op.create_table(
        "interpreter_confirmations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=8), nullable=False),
        sa.Column("subject_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("confirmed_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["confirmed_by"],
            ["persons.id"],
            name="fk_interpreter_confirmations_confirmed_by_persons",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_interpreter_confirmations"),
        sa.UniqueConstraint(
            "subject", "subject_id", "language", name="uq_interpreter_confirmations_subject"
        ),
    )
    op.create_index("ix_interpreter_confirmations_subject_id", "interpreter_confirmations", ["subject_id"])


def downgrade() -> None:
    for table in (
        "interpreter_confirmations",
        "interpreter_requests",
        "waiting_list",
        "event_guests",
        "event_places",
        "task_helpers",
        "event_tasks",
    ):
        op.drop_table(table)
