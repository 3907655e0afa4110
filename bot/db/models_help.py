"""Tables of help, places and interpreters: tasks and helpers, place limits, guests, the waiting list,
interpreter requests and confirmations (bot/domain/tasks.py, places.py, interpreters.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from bot.db.models import Base, utcnow

# --- help, places and interpreters (issue 13; bot/domain/tasks.py, places.py, interpreters.py) ---


class EventTask(Base):
    """Help asked for an event (`/addtask`): `needed` helpers for `title`."""

    __tablename__ = "event_tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    needed: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TaskHelper(Base):
    __tablename__ = "task_helpers"
    __table_args__ = (UniqueConstraint("task_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("event_tasks.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventPlaces(Base):
    """An event's limit of places (`/places`); no row: no limit. Its row in `events` is the lock that
    orders every change of who holds a place."""

    __tablename__ = "event_places"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("events.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    places: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventGuest(Base):
    """A person without Telegram holding a place (`/addguest`)."""

    __tablename__ = "event_guests"

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    added_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WaitingEntry(Base):
    """One place on an event's waiting list: a person, or a guest (then `guest_name`). Served in
    press order: `press_key` is the Telegram update id of the press (ids grow as Telegram receives
    updates), so the order is the order people pressed in, whichever instance handled the press."""

    __tablename__ = "waiting_list"
    __table_args__ = (
        UniqueConstraint("event_id", "person_id"),
        Index("ix_waiting_list_event_key", "event_id", "press_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"))
    guest_name: Mapped[str | None] = mapped_column(String(100))
    added_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    press_key: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InterpreterRequest(Base):
    """A person needs interpreting into `language` at an event or a meeting (`subject`)."""

    __tablename__ = "interpreter_requests"
    __table_args__ = (UniqueConstraint("subject", "subject_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(8))  # event | meeting
    subject_id: Mapped[int] = mapped_column(Integer, index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class InterpreterConfirmation(Base):
    """A coordinator confirmed an interpreter into `language` (`/interpreters {id} confirm ar`)."""

    __tablename__ = "interpreter_confirmations"
    __table_args__ = (UniqueConstraint("subject", "subject_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(8))
    subject_id: Mapped[int] = mapped_column(Integer, index=True)
    language: Mapped[str] = mapped_column(String(8))
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
