"""Persons, networks and roles. Pure database logic; never imports telegram."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain.errors import NotFound, UserError
from bot.i18n import N_, normalize_language


def insert_for(session: AsyncSession, table: Any) -> Any:
    """A dialect insert that supports ON CONFLICT (SQLite and PostgreSQL)."""
    name = session.get_bind().dialect.name
    return (pg_insert if name == "postgresql" else sqlite_insert)(table)


async def upsert_person(
    session: AsyncSession,
    tg_id: int,
    first_name: str,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = None,
) -> m.Person:
    """Find or create the person; refresh names only when Telegram's differ (no write otherwise)."""
    first_name = (first_name or "").replace("\x00", "")
    last_name = last_name.replace("\x00", "") if last_name else last_name
    username = username.replace("\x00", "") if username else username
    person = await session.scalar(select(m.Person).where(m.Person.tg_id == tg_id))
    tg_lang = normalize_language(language_code)
    if person is None:
        stmt = insert_for(session, m.Person.__table__).values(
            tg_id=tg_id,
            first_name=(first_name or "")[:128],
            last_name=(last_name or None) and last_name[:128],
            username=username,
            tg_language=tg_lang,
            reminder_minutes="1440",
            reachable=True,
            created_at=m.utcnow(),
        )
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["tg_id"]))
        person = await session.scalar(select(m.Person).where(m.Person.tg_id == tg_id))
        assert person is not None
        return person
    changed = (
        person.first_name != (first_name or "")[:128]
        or person.last_name != ((last_name or None) and last_name[:128])
        or person.username != username
        or (tg_lang is not None and person.tg_language != tg_lang)
        or not person.reachable
    )
    if changed:
        person.first_name = (first_name or "")[:128]
        person.last_name = (last_name or None) and last_name[:128]
        person.username = username
        if tg_lang is not None:
            person.tg_language = tg_lang
        person.reachable = True
    return person


async def set_person_language(session: AsyncSession, person: m.Person, lang: str) -> None:
    code = normalize_language(lang)
    if code is None:
        raise UserError(N_("That language is not available. Choose Dansk, العربية, ትግርኛ or English."))
    person.language = code


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name.replace("æ", "ae").replace("ø", "oe").replace("å", "aa"))
    ascii_name = ascii_name.encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:40] or "network"


async def network_for_chat(session: AsyncSession, chat_id: int) -> m.Network | None:
    return await session.scalar(select(m.Network).where(m.Network.chat_id == chat_id))


async def network_by_slug(session: AsyncSession, slug: str) -> m.Network | None:
    return await session.scalar(select(m.Network).where(m.Network.slug == slug.lower()))


async def setup_network(
    session: AsyncSession, chat_id: int, name: str, timezone: str, language: str
) -> tuple[m.Network, bool]:
    """Register a group as a network. Idempotent: a second /setup only renames (when a name is given)."""
    name = name.replace("\x00", "").strip()
    if len(name) > 128:
        raise UserError(
            N_("The name is too long ({length} characters; at most {limit})."), length=len(name), limit=128
        )
    existing = await network_for_chat(session, chat_id)
    if existing is not None:
        if name and name != existing.name:
            existing.name = name
        return existing, False
    base = slugify(name)
    slug = base
    n = 1
    while await session.scalar(select(func.count()).select_from(m.Network).where(m.Network.slug == slug)):
        n += 1
        slug = f"{base}-{n}"
    network = m.Network(chat_id=chat_id, name=name or base, slug=slug, timezone=timezone, language=language)
    session.add(network)
    await session.flush()
    for pos, (title, placement) in enumerate(DEFAULT_STANDING_ITEMS):
        session.add(m.StandingItem(network_id=network.id, title=title, placement=placement, position=pos))
    return network, True


# Stored in the network's language when the network is created; coordinators can edit them.
DEFAULT_STANDING_ITEMS = (
    (N_("Welcome and introductions"), "start"),
    (N_("Any other business"), "end"),
)


async def membership(
    session: AsyncSession, network: m.Network, person: m.Person, *, create: bool = True
) -> m.Membership | None:
    row = await session.scalar(
        select(m.Membership).where(m.Membership.network_id == network.id, m.Membership.person_id == person.id)
    )
    if row is None and create:
        stmt = insert_for(session, m.Membership.__table__).values(
            network_id=network.id,
            person_id=person.id,
            is_member=False,
            is_coordinator=False,
            is_follower=False,
            created_at=m.utcnow(),
        )
        await session.execute(stmt.on_conflict_do_nothing(index_elements=["network_id", "person_id"]))
        row = await session.scalar(
            select(m.Membership).where(
                m.Membership.network_id == network.id, m.Membership.person_id == person.id
            )
        )
    return row


async def mark_member(session: AsyncSession, network: m.Network, person: m.Person) -> m.Membership:
    row = await membership(session, network, person)
    assert row is not None
    if not row.is_member:
        row.is_member = True
    return row


async def follow(session: AsyncSession, network: m.Network, person: m.Person, now: datetime) -> bool:
    """Follow a network; returns False when already following."""
    row = await membership(session, network, person)
    assert row is not None
    if row.is_follower:
        return False
    row.is_follower = True
    row.followed_at = now
    return True


async def unfollow(session: AsyncSession, network: m.Network, person: m.Person) -> bool:
    row = await membership(session, network, person, create=False)
    if row is None or not row.is_follower:
        return False
    row.is_follower = False
    return True


async def followed_networks(session: AsyncSession, person: m.Person) -> Sequence[m.Network]:
    rows = await session.scalars(
        select(m.Network)
        .join(m.Membership, m.Membership.network_id == m.Network.id)
        .where(m.Membership.person_id == person.id, m.Membership.is_follower.is_(True))
        .order_by(m.Network.name)
    )
    return rows.all()


async def person_networks(session: AsyncSession, person: m.Person) -> Sequence[m.Network]:
    """Networks the person belongs to in any role."""
    rows = await session.scalars(
        select(m.Network)
        .join(m.Membership, m.Membership.network_id == m.Network.id)
        .where(
            m.Membership.person_id == person.id,
            (m.Membership.is_member | m.Membership.is_follower | m.Membership.is_coordinator),
        )
        .order_by(m.Network.name)
    )
    return rows.all()


async def set_named_coordinator(
    session: AsyncSession, network: m.Network, person: m.Person, value: bool
) -> None:
    row = await membership(session, network, person)
    assert row is not None
    row.is_coordinator = value


async def named_coordinators(session: AsyncSession, network: m.Network) -> Sequence[m.Person]:
    rows = await session.scalars(
        select(m.Person)
        .join(m.Membership, m.Membership.person_id == m.Person.id)
        .where(m.Membership.network_id == network.id, m.Membership.is_coordinator.is_(True))
        .order_by(m.Person.first_name)
    )
    return rows.all()


async def find_person_in_network(session: AsyncSession, network: m.Network, ref: str) -> m.Person:
    """Find a person of this network by @username or numeric Telegram id."""
    ref = ref.strip()
    query = (
        select(m.Person)
        .join(m.Membership, m.Membership.person_id == m.Person.id)
        .where(m.Membership.network_id == network.id)
    )
    digits = ref.removeprefix("-")
    if digits.isdecimal() and len(digits) <= 18:  # Telegram ids fit in 64 bits
        query = query.where(m.Person.tg_id == int(ref))
    else:
        query = query.where(func.lower(m.Person.username) == ref.lstrip("@").lower())
    person = await session.scalar(query)
    if person is None:
        raise NotFound(
            # Translators: {who} is what the coordinator typed to name someone, e.g. @amina.
            N_("I do not know {who} in this network yet. They must write in the group or to me first."),
            who=ref,
        )
    return person


async def set_translator(
    session: AsyncSession, network: m.Network, person: m.Person, language: str, value: bool
) -> None:
    lang = normalize_language(language)
    if lang is None:
        raise UserError(N_("That language is not available. Choose Dansk, العربية, ትግርኛ or English."))
    existing = await session.scalar(
        select(m.Translator).where(
            m.Translator.network_id == network.id,
            m.Translator.person_id == person.id,
            m.Translator.language == lang,
        )
    )
    if value and existing is None:
        session.add(m.Translator(network_id=network.id, person_id=person.id, language=lang))
    elif not value and existing is not None:
        await session.delete(existing)


async def translator_languages(session: AsyncSession, person: m.Person) -> dict[int, set[str]]:
    rows = await session.execute(
        select(m.Translator.network_id, m.Translator.language).where(m.Translator.person_id == person.id)
    )
    out: dict[int, set[str]] = {}
    for network_id, lang in rows:
        out.setdefault(network_id, set()).add(lang)
    return out


async def forget_person(session: AsyncSession, person: m.Person) -> None:
    """Delete every row naming the person; authored content they shared with a network is kept but
    no longer points to them."""
    pid = person.id
    # Content others rely on (events, votes) loses its author; the person's own rows go.
    nullable: tuple[tuple[Any, Any], ...] = (
        (m.Event, m.Event.creator_id),
        (m.Broadcast, m.Broadcast.author_id),
        (m.Meeting, m.Meeting.created_by),
        (m.AgendaItem, m.AgendaItem.submitter_id),
        (m.Vote, m.Vote.created_by),
        (m.ContentTranslation, m.ContentTranslation.translator_id),
    )
    for table, column in nullable:
        await session.execute(update(table).where(column == pid).values({column.key: None}))
    owned: tuple[tuple[Any, Any], ...] = (
        (m.Notice, m.Notice.person_id),
        (m.Rsvp, m.Rsvp.person_id),
        (m.Attendance, m.Attendance.person_id),
        (m.Objection, m.Objection.person_id),
        (m.Ballot, m.Ballot.person_id),
        (m.VoteVoter, m.VoteVoter.person_id),
        (m.Translator, m.Translator.person_id),
        (m.Membership, m.Membership.person_id),
        # issue 13 (a waiting-list row's person_id may be empty for guests: deleted, not cleared)
        (m.TaskHelper, m.TaskHelper.person_id),
        (m.WaitingEntry, m.WaitingEntry.person_id),
        (m.InterpreterRequest, m.InterpreterRequest.person_id),
    )
    for table, column in owned:
        await session.execute(delete(table).where(column == pid))
    await session.execute(delete(m.Notice).where(m.Notice.chat_id == person.tg_id))
    await session.execute(delete(m.Dialogue).where(m.Dialogue.user_tg_id == person.tg_id))
    await _forget_everywhere(session, person)
    await session.execute(delete(m.Person).where(m.Person.id == pid))


async def _forget_everywhere(session: AsyncSession, person: m.Person) -> None:
    """Catch-all over every table (tables added later included): a column naming the person is
    cleared when it may be empty (with the message id beside a chat id), else the row goes."""
    from bot.domain.privacy import person_columns

    for table in reversed(m.Base.metadata.sorted_tables):
        for col, kind in person_columns(table):
            value = person.id if kind == "id" else person.tg_id
            if col.nullable:
                values: dict[str, Any] = {col.name: None}
                sibling = col.name[: -len("chat_id")] + "message_id" if col.name.endswith("chat_id") else ""
                if sibling and sibling in table.c and table.c[sibling].nullable:
                    values[sibling] = None
                await session.execute(update(table).where(col == value).values(values))
            else:
                await session.execute(delete(table).where(col == value))
