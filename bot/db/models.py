"""Database models (typed SQLAlchemy 2). Every datetime is timezone-aware and stored in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; SQLite hands back naive values, which are UTC by construction."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use aware datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON}


# --- people and networks -------------------------------------------------------------------


class Person(Base):
    __tablename__ = "persons"

    id: Mapped[int] = mapped_column(primary_key=True)
    tg_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    first_name: Mapped[str] = mapped_column(String(128), default="")
    last_name: Mapped[str | None] = mapped_column(String(128))
    username: Mapped[str | None] = mapped_column(String(64))
    # The language the person chose with /language; None until they choose.
    language: Mapped[str | None] = mapped_column(String(8))
    # Telegram's language_code as last seen (only the two-letter code is kept).
    tg_language: Mapped[str | None] = mapped_column(String(8))
    # Reminder lead times in minutes, comma separated (default: one day).
    reminder_minutes: Mapped[str] = mapped_column(String(64), default="1440")
    # False once Telegram answered 403 (the person blocked the bot); set again when they write.
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="person", cascade="all, delete-orphan"
    )

    @property
    def display_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p) or (
            self.username or str(self.tg_id)
        )


class Network(Base):
    __tablename__ = "networks"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(128))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Copenhagen")
    language: Mapped[str] = mapped_column(String(8), default="da")
    agenda_deadline_days: Mapped[int] = mapped_column(Integer, default=10)
    final_agenda_days: Mapped[int] = mapped_column(Integer, default=7)
    minutes_due_days: Mapped[int] = mapped_column(Integer, default=7)
    objection_days: Mapped[int] = mapped_column(Integer, default=7)
    # Default vote rule: "majority" or "two_thirds"; quorum is a minimum number of votes cast.
    vote_rule: Mapped[str] = mapped_column(String(16), default="majority")
    vote_quorum: Mapped[int | None] = mapped_column(Integer)
    # Members' (not coordinators') events reach followers only after a coordinator approves (0007).
    require_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    memberships: Mapped[list[Membership]] = relationship(
        back_populates="network", cascade="all, delete-orphan"
    )


class Membership(Base):
    """A person's relation to a network: member of the group, coordinator, follower."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("network_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    is_member: Mapped[bool] = mapped_column(Boolean, default=False)
    # Named coordinator (group admins are coordinators without this flag).
    is_coordinator: Mapped[bool] = mapped_column(Boolean, default=False)
    is_follower: Mapped[bool] = mapped_column(Boolean, default=False)
    followed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(back_populates="memberships")
    network: Mapped[Network] = relationship(back_populates="memberships")


class Translator(Base):
    __tablename__ = "translators"
    __table_args__ = (UniqueConstraint("network_id", "person_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    language: Mapped[str] = mapped_column(String(8))


class Dialogue(Base):
    """State of a guided dialogue (one per user and chat), kept in the database so it survives restarts
    and any instance can continue it."""

    __tablename__ = "dialogues"
    __table_args__ = (UniqueConstraint("chat_id", "user_tg_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    user_tg_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(32))
    step: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- events ----------------------------------------------------------------------------------


class Series(Base):
    """A repeating event or a meeting series (recurrence: bot/domain/series.py). `rrule` is an RFC 5545
    RRULE (without DTSTART) read on the local clock of `timezone`, starting at `dtstart`; a meeting series
    of listed dates has no rule. Occurrences are rows of `events` (or `meetings`) with `series_id`,
    materialised up to `horizon_until`."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="event")  # event | meeting
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    rrule: Mapped[str | None] = mapped_column(String(300))
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Copenhagen")
    dtstart: Mapped[datetime] = mapped_column()
    duration_minutes: Mapped[int | None] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200), default="")
    place: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    language: Mapped[str] = mapped_column(String(8), default="da")
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | cancelled | replaced
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    horizon_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_network_start", "network_id", "starts_at"),
        Index("ix_events_series_start", "series_id", "starts_at"),
        UniqueConstraint("series_id", "recurrence_at", name="uq_events_series_recurrence"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    creator_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    place: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column()
    ends_at: Mapped[datetime | None] = mapped_column()
    open_to_all: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="scheduled")  # scheduled | cancelled
    # iCalendar SEQUENCE: bumped on every change so subscribed calendars update.
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    # Where the group's card lives, to edit the going count in place.
    card_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    card_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The feed's VEVENT for this event as icalendar wrote it (DTSTAMP a placeholder), and a hash of
    # everything it was made of (bot.render.ics.stored_key): used only while the hash still matches.
    # Deferred, and raising if touched unloaded: only the feed reads them, by an explicit query.
    ics_vevent: Mapped[str | None] = mapped_column(Text, deferred=True, deferred_raiseload=True)
    ics_key: Mapped[str | None] = mapped_column(String(40), deferred=True, deferred_raiseload=True)
    # An occurrence of a series: the series, and the start its rule gave it (iCalendar RECURRENCE-ID).
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="SET NULL"))
    recurrence_at: Mapped[datetime | None] = mapped_column()
    # Whether followers were told (bot/domain/approval.py): announced | capped (the member's daily
    # allowance was used) | pending (waiting for a coordinator) | rejected. announce_chat_id: where the
    # member created it, to tell them the outcome.
    announcement: Mapped[str] = mapped_column(String(16), default="announced", server_default="announced")
    announce_chat_id: Mapped[int | None] = mapped_column(BigInteger)


class Rsvp(Base):
    __tablename__ = "rsvps"
    __table_args__ = (UniqueConstraint("event_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    status: Mapped[str | None] = mapped_column(String(16))  # going | not_going | None
    remind: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContentTranslation(Base):
    """A translator's version of a text written in another language (event, broadcast)."""

    __tablename__ = "content_translations"
    __table_args__ = (UniqueConstraint("subject", "subject_id", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subject: Mapped[str] = mapped_column(String(16))  # event | broadcast
    subject_id: Mapped[int] = mapped_column(Integer)
    language: Mapped[str] = mapped_column(String(8))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    translator_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- delivery --------------------------------------------------------------------------------


class Notice(Base):
    """One message due to one chat at one time. The scheduler's single source of truth."""

    __tablename__ = "notices"
    __table_args__ = (Index("ix_notices_state_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    # Unique per logical notice, so it can never be enqueued (and sent) twice.
    dedup_key: Mapped[str] = mapped_column(String(160), unique=True)
    network_id: Mapped[int | None] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    ref_id: Mapped[int | None] = mapped_column(Integer)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    due_at: Mapped[datetime] = mapped_column()
    # pending | sending | sent | failed | cancelled | skipped
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Broadcast(Base):
    __tablename__ = "broadcasts"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    due_at: Mapped[datetime] = mapped_column()
    # scheduled | sending | done | cancelled
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    total: Mapped[int] = mapped_column(Integer, default=0)
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- meetings --------------------------------------------------------------------------------


class Meeting(Base):
    __tablename__ = "meetings"
    __table_args__ = (Index("ix_meetings_network_start", "network_id", "starts_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column()
    place: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="scheduled")  # scheduled | cancelled
    created_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    # none | circulated | approved | disputed
    minutes_state: Mapped[str] = mapped_column(String(16), default="none")
    minutes_text: Mapped[str | None] = mapped_column(Text)
    minutes_file_id: Mapped[str | None] = mapped_column(String(256))
    minutes_posted_at: Mapped[datetime | None] = mapped_column()
    minutes_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    minutes_message_id: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A meeting of a series (listed dates or a rhythm): bot/domain/series.py.
    series_id: Mapped[int | None] = mapped_column(ForeignKey("series.id", ondelete="SET NULL"), index=True)


class StandingItem(Base):
    """An item that is always on the agenda (welcome, any other business)."""

    __tablename__ = "standing_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    # "start" items come before submitted items, "end" items after; position orders within.
    placement: Mapped[str] = mapped_column(String(8), default="start")
    position: Mapped[int] = mapped_column(Integer, default=0)


class AgendaItem(Base):
    __tablename__ = "agenda_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    submitter_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    position: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    # accepted | pending (late, awaiting a coordinator) | declined | withdrawn
    status: Mapped[str] = mapped_column(String(16), default="accepted")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attendance(Base):
    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("meeting_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # attending | regrets | substitute
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Objection(Base):
    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- votes and decisions -----------------------------------------------------------------------


class Vote(Base):
    __tablename__ = "votes"

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"), index=True)
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"))
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"))
    question: Mapped[str] = mapped_column(String(300))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("persons.id", ondelete="SET NULL"))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    deadline: Mapped[datetime | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="open")  # open | closed
    rule: Mapped[str] = mapped_column(String(16), default="majority")  # majority | two_thirds
    quorum: Mapped[int | None] = mapped_column(Integer)
    quorum_attending: Mapped[bool] = mapped_column(Boolean, default=False)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set when closed: adopted | rejected | tie | no_quorum
    outcome: Mapped[str | None] = mapped_column(String(16))
    # An in-room show of hands overrides the button tally.
    hand_for: Mapped[int | None] = mapped_column(Integer)
    hand_against: Mapped[int | None] = mapped_column(Integer)
    hand_abstain: Mapped[int | None] = mapped_column(Integer)
    # Bumped on every ballot change; the coalesced editor compares it with what it last showed.
    revision: Mapped[int] = mapped_column(Integer, default=0)
    shown_revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()


class VoteVoter(Base):
    """Named voters of a restricted vote."""

    __tablename__ = "vote_voters"
    __table_args__ = (UniqueConstraint("vote_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)


class Ballot(Base):
    __tablename__ = "ballots"
    __table_args__ = (UniqueConstraint("vote_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vote_id: Mapped[int] = mapped_column(ForeignKey("votes.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id", ondelete="CASCADE"), index=True)
    choice: Mapped[str] = mapped_column(String(8))  # for | against | abstain
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Decision(Base):
    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_network_decided", "network_id", "decided_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    network_id: Mapped[int] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))  # vote | minutes
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"))
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("agenda_items.id", ondelete="SET NULL"))
    vote_id: Mapped[int | None] = mapped_column(ForeignKey("votes.id", ondelete="SET NULL"))
    text: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(16))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)


class SendSlot(Base):
    """Telegram's global send budget shared by the instances on one PostgreSQL database: one row per
    time slot taken (see bot/schedule/budget.py). Rows older than a minute are deleted."""

    __tablename__ = "send_slots"

    # Slot number: the database clock in units of 1/slots-per-second since the epoch.
    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class ChatSendSlot(Base):
    """Telegram's per-chat limits shared by the instances on one PostgreSQL database: one row per
    chat and time slot taken (see `ChatBudget` in bot/schedule/budget.py)."""

    __tablename__ = "chat_send_slots"

    # A hash of the chat id (negative for groups; see `chat_key`): the table names nobody.
    chat_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The database clock in units of the chat's slot width (1 s private, 60/18 s group).
    slot: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


# The tables of later features live in their own modules; imported here so that `models.X` and the
# metadata (Alembic, the tests' schema checks) see every table.
from bot.db.models_between import ActionItem, AgendaAttachment, NetworkOptions  # noqa: E402, F401
from bot.db.models_help import (  # noqa: E402, F401
    EventGuest,
    EventPlaces,
    EventTask,
    InterpreterConfirmation,
    InterpreterRequest,
    TaskHelper,
    WaitingEntry,
)
