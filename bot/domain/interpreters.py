"""Interpreters: who needs interpreting into which language at an event or a meeting, the counts
coordinators see (and get 3 days before), and the languages a coordinator confirmed.

A subject is ("event", id) or ("meeting", id).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain.errors import NotFound, UserError
from bot.domain.people import insert_for
from bot.i18n import N_
from bot.schedule.notices import enqueue_to_people

SUBJECTS = ("event", "meeting")
# Readers of these languages are asked which language they need (the bot's language need not be theirs).
ASK_LANGUAGES = frozenset({"da", "en"})
# Offered first, always: the languages of the people these networks work with.
FIRST_CHOICES = ("ar", "ti")
DIGEST_BEFORE = timedelta(days=3)
KIND_DIGEST = "interp_counts"
KIND_CONFIRMED = "interp_confirmed"
EXAMPLE = "/interpreters 12 · /interpreters m3 · /interpreters 12 confirm ar"


def valid_language(code: str) -> bool:
    return 2 <= len(code) <= 3 and code.isascii() and code.isalpha() and code.islower()


def parse_subject(raw: str) -> tuple[str, int]:
    """`12` (an event) or `m3` (a meeting)."""
    text = raw.strip().lstrip("#").lower()
    subject = "event"
    if text.startswith("m"):
        subject, text = "meeting", text[1:]
    if not text.isdecimal() or len(text) > 12:
        raise UserError(N_("Write it like this: {example}"), example=EXAMPLE)
    return subject, int(text)


async def choices(session: AsyncSession, network_id: int) -> list[str]:
    """Arabic, Tigrinya, then the network's other languages (its translators'), then English."""
    rows = await session.scalars(
        select(m.Translator.language).where(m.Translator.network_id == network_id).distinct()
    )
    others = sorted({code for code in rows if valid_language(code)} - {"da", "en", *FIRST_CHOICES})
    return [*FIRST_CHOICES, *others, "en"]


async def request_of(
    session: AsyncSession, subject: str, subject_id: int, person_id: int
) -> m.InterpreterRequest | None:
    return await session.scalar(
        select(m.InterpreterRequest).where(
            m.InterpreterRequest.subject == subject,
            m.InterpreterRequest.subject_id == subject_id,
            m.InterpreterRequest.person_id == person_id,
        )
    )


async def record(
    session: AsyncSession, subject: str, subject_id: int, person: m.Person, language: str, now: datetime
) -> None:
    if not valid_language(language):
        raise UserError(N_("This button no longer works."))
    await session.execute(
        insert_for(session, m.InterpreterRequest.__table__)
        .values(
            subject=subject, subject_id=subject_id, person_id=person.id, language=language, created_at=now
        )
        .on_conflict_do_update(
            index_elements=["subject", "subject_id", "person_id"], set_={"language": language}
        )
    )


async def withdraw(session: AsyncSession, subject: str, subject_id: int, person: m.Person) -> bool:
    result = await session.execute(
        delete(m.InterpreterRequest).where(
            m.InterpreterRequest.subject == subject,
            m.InterpreterRequest.subject_id == subject_id,
            m.InterpreterRequest.person_id == person.id,
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def counts(session: AsyncSession, subject: str, subject_id: int) -> list[tuple[str, int]]:
    """(language, people) for one subject, most asked first."""
    rows = (
        await session.execute(
            select(m.InterpreterRequest.language, func.count())
            .where(m.InterpreterRequest.subject == subject, m.InterpreterRequest.subject_id == subject_id)
            .group_by(m.InterpreterRequest.language)
        )
    ).all()
    return sorted(((str(lang), int(n)) for lang, n in rows), key=lambda r: (-r[1], r[0]))


async def confirmed(session: AsyncSession, subject: str, subject_id: int) -> list[str]:
    rows = await session.scalars(
        select(m.InterpreterConfirmation.language)
        .where(
            m.InterpreterConfirmation.subject == subject,
            m.InterpreterConfirmation.subject_id == subject_id,
        )
        .order_by(m.InterpreterConfirmation.id)
    )
    return list(rows.all())


async def confirm(
    session: AsyncSession, subject: str, subject_id: int, language: str, by: m.Person | None, now: datetime
) -> Sequence[m.Person]:
    """Records the confirmation; returns the people who asked for that language (to tell them).
    Confirming again changes nothing and tells nobody twice."""
    if not valid_language(language):
        raise UserError(N_("Write it like this: {example}"), example=EXAMPLE)
    result = await session.execute(
        insert_for(session, m.InterpreterConfirmation.__table__)
        .values(
            subject=subject,
            subject_id=subject_id,
            language=language,
            confirmed_by=by.id if by else None,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["subject", "subject_id", "language"])
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return []
    rows = await session.scalars(
        select(m.Person)
        .join(m.InterpreterRequest, m.InterpreterRequest.person_id == m.Person.id)
        .where(
            m.InterpreterRequest.subject == subject,
            m.InterpreterRequest.subject_id == subject_id,
            m.InterpreterRequest.language == language,
        )
        .order_by(m.Person.id)
    )
    return rows.all()


def stamp(starts_at: datetime) -> int:
    return int(starts_at.timestamp())


async def plan_digest(
    session: AsyncSession,
    subject: str,
    subject_id: int,
    starts_at: datetime,
    network_id: int,
    coordinators: Iterable[m.Person],
    now: datetime,
) -> int:
    """The counts to each coordinator 3 days before (once per start time); none once that is past."""
    due = starts_at - DIGEST_BEFORE
    if due <= now:
        return 0
    ts = stamp(starts_at)
    return await enqueue_to_people(
        session,
        coordinators,
        kind=KIND_DIGEST,
        key=lambda p: f"itp:{subject}:{subject_id}:{ts}:p{p.id}",
        due_at=due,
        network_id=network_id,
        ref_id=subject_id,
        payload={"subject": subject, "ts": ts},
    )


async def subject_row(session: AsyncSession, subject: str, subject_id: int) -> m.Event | m.Meeting:
    row: m.Event | m.Meeting | None
    if subject == "event":
        row = await session.get(m.Event, subject_id)
        if row is None:
            raise NotFound(N_("There is no event with that number. /events lists the upcoming ones."))
    else:
        row = await session.get(m.Meeting, subject_id)
        if row is None:
            raise NotFound(N_("There is no meeting with that number."))
    return row
