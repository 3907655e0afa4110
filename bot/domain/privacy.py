"""Everything stored about a person, for /mydata; and where a person can be named, for /forgetme.

`person_columns` finds, in every table of the schema, the columns that can name a person: foreign
keys to persons.id and columns holding a Telegram user or private chat id. /mydata and /forgetme
use it as a catch-all after their explicit rules, so a table added later is covered too.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Column, Table, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import undefer

from bot.db import models as m

# Group chats only (negative ids): never a person's private chat.
_GROUP_ONLY = {("networks", "chat_id")}


def _is_big_integer(col: Column[Any]) -> bool:
    kind = col.type
    return isinstance(kind, BigInteger) or isinstance(getattr(kind, "impl", None), BigInteger)


def person_columns(table: Table) -> list[tuple[Column[Any], str]]:
    """(column, "id" | "tg") for each column of `table` that can name a person."""
    out: list[tuple[Column[Any], str]] = []
    if table.name == m.Person.__tablename__:
        return out
    for col in table.columns:
        if any(fk.column.table.name == m.Person.__tablename__ for fk in col.foreign_keys):
            out.append((col, "id"))
        elif (
            _is_big_integer(col)
            and (col.name.endswith("chat_id") or "tg_id" in col.name or "user" in col.name)
            and (table.name, col.name) not in _GROUP_ONLY
        ):
            out.append((col, "tg"))
    return out


def person_condition(table: Table, person: m.Person) -> Any | None:
    conds = [col == (person.id if kind == "id" else person.tg_id) for col, kind in person_columns(table)]
    return or_(*conds) if conds else None


def _value(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _row(obj: Any) -> dict[str, Any]:
    return {col.key: _value(getattr(obj, col.key)) for col in obj.__table__.columns}


async def export_person(session: AsyncSession, person: m.Person) -> dict[str, Any]:
    pid = person.id
    data: dict[str, Any] = {"person": _row(person)}
    tables: list[tuple[str, Any, Any]] = [
        ("memberships", m.Membership, m.Membership.person_id == pid),
        ("translator_roles", m.Translator, m.Translator.person_id == pid),
        ("rsvps", m.Rsvp, m.Rsvp.person_id == pid),
        ("attendance", m.Attendance, m.Attendance.person_id == pid),
        ("objections", m.Objection, m.Objection.person_id == pid),
        ("ballots", m.Ballot, m.Ballot.person_id == pid),
        ("named_voter_of", m.VoteVoter, m.VoteVoter.person_id == pid),
        ("events_created", m.Event, m.Event.creator_id == pid),
        ("broadcasts_written", m.Broadcast, m.Broadcast.author_id == pid),
        ("meetings_created", m.Meeting, m.Meeting.created_by == pid),
        ("agenda_items_submitted", m.AgendaItem, m.AgendaItem.submitter_id == pid),
        ("agenda_files_attached", m.AgendaAttachment, m.AgendaAttachment.uploader_id == pid),
        ("action_items_owned", m.ActionItem, m.ActionItem.owner_id == pid),
        ("action_items_noted", m.ActionItem, m.ActionItem.creator_id == pid),
        ("votes_opened", m.Vote, m.Vote.created_by == pid),
        ("translations_written", m.ContentTranslation, m.ContentTranslation.translator_id == pid),
        ("dialogues", m.Dialogue, m.Dialogue.user_tg_id == person.tg_id),
        ("notices", m.Notice, or_(m.Notice.person_id == pid, m.Notice.chat_id == person.tg_id)),
        # issue 13: help, places and interpreters
        ("tasks_helping", m.TaskHelper, m.TaskHelper.person_id == pid),
        ("tasks_created", m.EventTask, m.EventTask.created_by == pid),
        (
            "waiting_list",
            m.WaitingEntry,
            or_(m.WaitingEntry.person_id == pid, m.WaitingEntry.added_by == pid),
        ),
        ("guests_added", m.EventGuest, m.EventGuest.added_by == pid),
        ("interpreter_requests", m.InterpreterRequest, m.InterpreterRequest.person_id == pid),
        ("interpreters_confirmed", m.InterpreterConfirmation, m.InterpreterConfirmation.confirmed_by == pid),
    ]
    covered: set[tuple[str, Any]] = set()
    for name, model, cond in tables:
        # Every column, deferred ones too (events' stored VEVENT): the export is the whole row.
        rows = (await session.scalars(select(model).where(cond).options(undefer("*")))).all()
        # A row in two sections (an action item the person noted for themselves) is exported once.
        rows = [r for r in rows if (model.__tablename__, r.id) not in covered]
        data[name] = [_row(r) for r in rows]
        covered.update((model.__tablename__, r.id) for r in rows)
    # Every other row that names the person, in any table (tables added later included).
    for table in m.Base.metadata.sorted_tables:
        cond = person_condition(table, person)
        if cond is None:
            continue
        for row in (await session.execute(select(table).where(cond))).mappings():
            key = row.get("id")
            if (table.name, key) in covered:
                continue
            covered.add((table.name, key))
            data.setdefault(table.name, []).append({k: _value(v) for k, v in row.items()})
    return data
