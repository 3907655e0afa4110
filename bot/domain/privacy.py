"""Everything stored about a person, for /mydata."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m


def _row(obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for col in obj.__table__.columns:
        value = getattr(obj, col.key)
        out[col.key] = value.isoformat() if isinstance(value, datetime) else value
    return out


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
        ("votes_opened", m.Vote, m.Vote.created_by == pid),
        ("translations_written", m.ContentTranslation, m.ContentTranslation.translator_id == pid),
        ("dialogues", m.Dialogue, m.Dialogue.user_tg_id == person.tg_id),
        ("notices", m.Notice, or_(m.Notice.person_id == pid, m.Notice.chat_id == person.tg_id)),
    ]
    for name, model, cond in tables:
        rows = (await session.scalars(select(model).where(cond))).all()
        data[name] = [_row(r) for r in rows]
    return data
