"""Action items (to-dos) agreed between meetings: who does what, by when.

Pure database logic; never imports telegram. `{who}` is @username, a name the bot knows in the
network, or "me" in any of the bot's languages; an unknown name is kept as written (nobody is told).
A known owner is told privately and, with a due date, reminded at 10:00 (network time) the day before.
Only the owner or a coordinator marks an item done.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain.errors import NotAllowed, NotFound, UserError
from bot.domain.meetings import zone
from bot.domain.when import parse_when
from bot.i18n import N_
from bot.schedule.notices import cancel_pending, enqueue

KIND_ASSIGNED = "todo_assigned"
KIND_DUE = "todo_due"
MAX_TEXT = 500
MAX_NAME = 128
REMIND_AT = time(10, 0)
# "me" in each language (and a few spellings people use).
ME_WORDS = frozenset({"me", "myself", "mig", "jeg", "mig selv", "أنا", "انا", "ኣነ", "አነ"})


async def resolve_owner(
    session: AsyncSession, network: m.Network, who: str, me: m.Person
) -> tuple[m.Person | None, str]:
    """(the person, the name as written): a known person of the network, else (None, who)."""
    who = " ".join(who.split())
    if not who:
        raise UserError(
            N_("Write who does it. Example: {example}"), example="/todo @anna | Ring til kommunen"
        )
    if len(who) > MAX_NAME:
        raise UserError(
            N_("That is too long ({length} characters; at most {limit})."), length=len(who), limit=MAX_NAME
        )
    if who.casefold() in ME_WORDS:
        return me, ""
    members = (
        select(m.Person)
        .join(m.Membership, m.Membership.person_id == m.Person.id)
        .where(m.Membership.network_id == network.id)
    )
    if who.startswith("@"):
        found = await session.scalar(
            members.where(func.lower(m.Person.username) == who[1:].lower()).order_by(m.Person.id).limit(1)
        )
        return (found, "") if found is not None else (None, who)
    folded = who.casefold()
    matches = [
        p
        for p in (await session.scalars(members.order_by(m.Person.id))).all()
        if folded in (p.display_name.casefold(), (p.first_name or "").casefold())
    ]
    if len(matches) == 1:
        return matches[0], ""
    return None, who  # unknown, or two people share the name: kept as written


def parse_due(text: str, network: m.Network, now: datetime, lang: str | None) -> datetime | None:
    """A due date (a time is optional: a date alone means noon that day)."""
    text = text.strip()
    if not text:
        return None
    try:
        return parse_when(text, network.timezone, now, lang)
    except UserError:
        pass
    return parse_when(f"{text} 12:00", network.timezone, now, lang)


def reminder_time(item: m.ActionItem, network: m.Network) -> datetime | None:
    """10:00 network time on the day before the due date."""
    if item.due_at is None:
        return None
    tz = zone(network)
    day = item.due_at.astimezone(tz).date() - timedelta(days=1)
    return datetime.combine(day, REMIND_AT, tzinfo=tz).astimezone(item.due_at.tzinfo)


def overdue(item: m.ActionItem, network: m.Network, now: datetime) -> bool:
    if item.due_at is None or item.status != "open":
        return False
    tz = zone(network)
    return now.astimezone(tz).date() > item.due_at.astimezone(tz).date()


async def create(
    session: AsyncSession,
    network: m.Network,
    creator: m.Person,
    who: str,
    what: str,
    due: str,
    now: datetime,
    lang: str | None = None,
) -> m.ActionItem:
    what = " ".join(what.split())
    if not what:
        raise UserError(
            N_("Write what is to be done. Example: {example}"), example="/todo mig | Ring til kommunen"
        )
    if len(what) > MAX_TEXT:
        raise UserError(
            N_("That is too long ({length} characters; at most {limit})."), length=len(what), limit=MAX_TEXT
        )
    owner, name = await resolve_owner(session, network, who, creator)
    item = m.ActionItem(
        network_id=network.id,
        creator_id=creator.id,
        owner_id=owner.id if owner else None,
        owner_name=name,
        text=what,
        due_at=parse_due(due, network, now, lang),
        status="open",
        created_at=now,
    )
    session.add(item)
    await session.flush()
    if owner is not None:
        await enqueue(
            session,
            kind=KIND_ASSIGNED,
            dedup_key=f"todo:{item.id}:assigned",
            chat_id=owner.tg_id,
            due_at=now,
            person_id=owner.id,
            network_id=network.id,
            ref_id=item.id,
        )
        remind = reminder_time(item, network)
        if remind is not None and remind > now:
            await enqueue(
                session,
                kind=KIND_DUE,
                dedup_key=f"todo:{item.id}:due",
                chat_id=owner.tg_id,
                due_at=remind,
                person_id=owner.id,
                network_id=network.id,
                ref_id=item.id,
            )
    return item


async def get_for(session: AsyncSession, item_id: int) -> tuple[m.ActionItem, m.Network]:
    item = await session.get(m.ActionItem, item_id)
    network = await session.get(m.Network, item.network_id) if item else None
    if item is None or network is None:
        raise NotFound(N_("There is no action item number {id}. /todos lists them."), id=item_id)
    return item, network


async def mark_done(
    session: AsyncSession, item: m.ActionItem, person: m.Person, is_coordinator: bool, now: datetime
) -> bool:
    """Owner or coordinator only; False when it was done already (nothing changes)."""
    if item.owner_id != person.id and not is_coordinator:
        raise NotAllowed(N_("Only the person it is for or a coordinator can mark it done."))
    if item.status == "done":
        return False
    item.status = "done"
    item.done_at = now
    item.done_by = person.id
    await cancel_pending(session, key_prefix=f"todo:{item.id}:due")
    return True


async def open_items(
    session: AsyncSession, network_ids: Sequence[int], limit: int = 50
) -> list[m.ActionItem]:
    if not network_ids:
        return []
    rows = await session.scalars(
        select(m.ActionItem)
        .where(m.ActionItem.network_id.in_(list(network_ids)), m.ActionItem.status == "open")
        # Items with a due date first, soonest first; then the others, oldest first.
        .order_by(m.ActionItem.due_at.is_(None), m.ActionItem.due_at, m.ActionItem.id)
        .limit(limit)
    )
    return list(rows.all())


async def open_count(session: AsyncSession, network_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count(m.ActionItem.id)).where(
                m.ActionItem.network_id == network_id, m.ActionItem.status == "open"
            )
        )
        or 0
    )


async def owner_names(session: AsyncSession, items: Sequence[m.ActionItem]) -> dict[int, str]:
    ids = {i.owner_id for i in items if i.owner_id}
    if not ids:
        return {}
    rows = await session.scalars(select(m.Person).where(m.Person.id.in_(ids)))
    return {p.id: p.display_name for p in rows}
