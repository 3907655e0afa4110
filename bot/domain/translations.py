"""Content translations: a translator's version of an event (or broadcast) in another language.

Readers get their language when a translation exists, else the original with a note."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m

EVENT_FIELDS = ("title", "place", "description")


@dataclass(frozen=True)
class Texts:
    fields: dict[str, str]
    # The language the texts are in; differs from the reader's when no translation exists yet.
    language: str
    translated: bool


def guess_language(text: str, fallback: str) -> str:
    """The script tells Arabic and Tigrinya apart from Latin-script languages."""
    arabic = sum(1 for ch in text if "\u0600" <= ch <= "\u06ff")
    geez = sum(1 for ch in text if "\u1200" <= ch <= "\u137f")
    latin = sum(1 for ch in text if ch.isalpha() and ch.isascii())
    if arabic > latin and arabic >= geez:
        return "ar"
    if geez > latin:
        return "ti"
    if fallback in ("ar", "ti"):
        # Latin script written by an Arabic or Tigrinya reader: most likely the network's Danish/English.
        return "da"
    return fallback


async def get(session: AsyncSession, subject: str, subject_id: int, lang: str) -> m.ContentTranslation | None:
    return await session.scalar(
        select(m.ContentTranslation).where(
            m.ContentTranslation.subject == subject,
            m.ContentTranslation.subject_id == subject_id,
            m.ContentTranslation.language == lang,
        )
    )


async def event_texts(session: AsyncSession, event: m.Event, lang: str) -> Texts:
    original = {"title": event.title, "place": event.place, "description": event.description}
    if lang == event.language:
        return Texts(original, event.language, True)
    row = await get(session, "event", event.id, lang)
    if row is None:
        return Texts(original, event.language, False)
    merged = {k: str(row.fields.get(k) or original[k]) for k in EVENT_FIELDS}
    return Texts(merged, lang, True)


async def many_event_texts(session: AsyncSession, events: Sequence[m.Event], lang: str) -> dict[int, Texts]:
    ids = [e.id for e in events if e.language != lang]
    rows: dict[int, m.ContentTranslation] = {}
    if ids:
        found = await session.scalars(
            select(m.ContentTranslation).where(
                m.ContentTranslation.subject == "event",
                m.ContentTranslation.subject_id.in_(ids),
                m.ContentTranslation.language == lang,
            )
        )
        rows = {r.subject_id: r for r in found}
    out: dict[int, Texts] = {}
    for e in events:
        original = {"title": e.title, "place": e.place, "description": e.description}
        row = rows.get(e.id)
        if e.language == lang:
            out[e.id] = Texts(original, lang, True)
        elif row is None:
            out[e.id] = Texts(original, e.language, False)
        else:
            out[e.id] = Texts({k: str(row.fields.get(k) or original[k]) for k in EVENT_FIELDS}, lang, True)
    return out


async def queue(
    session: AsyncSession, person: m.Person, now: datetime, limit: int = 20
) -> list[tuple[str, int, str]]:
    """What waits for this translator: (subject, id, language), soonest events first, then broadcasts."""
    roles = (
        await session.execute(
            select(m.Translator.network_id, m.Translator.language).where(m.Translator.person_id == person.id)
        )
    ).all()
    out: list[tuple[str, int, str]] = []
    for network_id, lang in roles:
        done = select(m.ContentTranslation.subject_id).where(
            m.ContentTranslation.subject == "event", m.ContentTranslation.language == lang
        )
        events = await session.scalars(
            select(m.Event.id)
            .where(
                m.Event.network_id == network_id,
                m.Event.status == "scheduled",
                m.Event.starts_at > now,
                m.Event.language != lang,
                m.Event.id.not_in(done),
            )
            .order_by(m.Event.starts_at)
            .limit(limit)
        )
        out.extend(("event", eid, lang) for eid in events)
        done_b = select(m.ContentTranslation.subject_id).where(
            and_(m.ContentTranslation.subject == "broadcast", m.ContentTranslation.language == lang)
        )
        broadcasts = await session.scalars(
            select(m.Broadcast.id)
            .where(
                m.Broadcast.network_id == network_id,
                m.Broadcast.state == "scheduled",
                m.Broadcast.language != lang,
                m.Broadcast.id.not_in(done_b),
            )
            .order_by(m.Broadcast.due_at)
            .limit(limit)
        )
        out.extend(("broadcast", bid, lang) for bid in broadcasts)
    return out[:limit]


async def may_translate(session: AsyncSession, person: m.Person, network_id: int, lang: str) -> bool:
    return (
        await session.scalar(
            select(m.Translator.id).where(
                m.Translator.person_id == person.id,
                m.Translator.network_id == network_id,
                m.Translator.language == lang,
            )
        )
        is not None
    )


async def save(
    session: AsyncSession, subject: str, subject_id: int, lang: str, fields: dict[str, Any], person: m.Person
) -> m.ContentTranslation:
    row = await get(session, subject, subject_id, lang)
    if row is None:
        row = m.ContentTranslation(subject=subject, subject_id=subject_id, language=lang)
        session.add(row)
    row.fields = {k: v for k, v in fields.items() if v}
    row.translator_id = person.id
    await session.flush()
    return row
