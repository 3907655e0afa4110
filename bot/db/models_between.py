"""Tables of the work between meetings: agenda attachments, action items, and per-network options
(working-group parent, published decisions) (bot/domain/attachments.py, todos.py, workgroups.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    ForeignKey,
    Index,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base, utcnow

# --- between meetings: attachments, action items, working groups, publishing ----------------------


class AgendaAttachment(Base):
    """A file (document or photo) attached to an agenda item; sent on by its Telegram file id."""

    __tablename__ = "agenda_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("agenda_items.id", ondelete="CASCADE"), index=True)
    uploader_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="document")  # document | photo
    file_id: Mapped[str] = mapped_column(String(256))
    file_unique_id: Mapped[str] = mapped_column(String(64), default="")
    file_name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ActionItem(Base):
    """A to-do agreed between meetings: who does what, by when."""

    __tablename__ = "action_items"
    __table_args__ = (Index("ix_action_items_network_status", "network_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    # A person the bot knows, else only the name as written (owner_id None).
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"), index=True)
    owner_name: Mapped[str] = mapped_column(String(128), default="")
    text: Mapped[str] = mapped_column(Text)
    due_at: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | done
    done_at: Mapped[datetime | None] = mapped_column()
    done_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class NetworkOptions(Base):
    """Per-network options of the between-meetings features: the parent network of a working group,
    and whether the decisions are published on the web."""

    __tablename__ = "network_options"

    network_id: Mapped[int] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("networks.id", ondelete="SET NULL"), index=True)
    publish_decisions: Mapped[bool] = mapped_column(Boolean, default=False)
