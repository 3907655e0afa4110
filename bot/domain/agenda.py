"""A meeting's agenda (standing items and submitted items, late items decided by coordinators) and
who attends. Pure database logic; never imports telegram. The meeting itself, its rhythm and its
notices: bot.domain.meetings."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain import attachments
from bot.domain.errors import NotAllowed, UserError
from bot.domain.meetings import (
    ATTENDANCE,
    KIND_ITEM_DECIDED,
    KIND_LATE,
    MAX_DESCRIPTION,
    MAX_STANDING,
    MAX_TITLE,
    coordinators,
    deadline_of,
)
from bot.domain.people import insert_for
from bot.i18n import N_
from bot.schedule.notices import enqueue, enqueue_to_people

# --- standing items ----------------------------------------------------------------------------


async def standing_items(session: AsyncSession, network_id: int) -> list[m.StandingItem]:
    rows = await session.scalars(
        select(m.StandingItem)
        .where(m.StandingItem.network_id == network_id)
        .order_by(m.StandingItem.placement.desc(), m.StandingItem.position, m.StandingItem.id)
    )
    # "start" sorts after "end" descending-alphabetically: start first, then end.
    return list(rows.all())


async def add_standing(
    session: AsyncSession, network: m.Network, title: str, placement: str
) -> m.StandingItem:
    title = title.strip()
    if not title:
        raise UserError(N_("Write the item's title. Example: /standing add end Nyt fra kommunen"))
    if len(title) > MAX_TITLE:
        raise UserError(
            N_("That is too long ({length} characters; at most {limit})."), length=len(title), limit=MAX_TITLE
        )
    if placement not in ("start", "end"):
        raise UserError(N_("Write start or end. Example: /standing add end Nyt fra kommunen"))
    existing = await standing_items(session, network.id)
    if len(existing) >= MAX_STANDING:
        raise UserError(N_("A network can have at most {limit} standing items."), limit=MAX_STANDING)
    position = max((s.position for s in existing), default=-1) + 1
    item = m.StandingItem(network_id=network.id, title=title, placement=placement, position=position)
    session.add(item)
    await session.flush()
    return item


async def remove_standing(session: AsyncSession, network: m.Network, number: int) -> m.StandingItem:
    items = await standing_items(session, network.id)
    if not 1 <= number <= len(items):
        raise UserError(
            N_(
                "There is no standing item number {number}. /standing lists them. Example: /standing remove 2"
            ),
            number=number,
        )
    item = items[number - 1]
    await session.delete(item)
    await session.flush()
    return item


# --- agenda items -------------------------------------------------------------------------------


async def items_of(
    session: AsyncSession, meeting_id: int, statuses: Sequence[str] = ("accepted", "pending")
) -> list[m.AgendaItem]:
    rows = await session.scalars(
        select(m.AgendaItem)
        .where(m.AgendaItem.meeting_id == meeting_id, m.AgendaItem.status.in_(list(statuses)))
        .order_by(m.AgendaItem.position, m.AgendaItem.id)
    )
    return list(rows.all())


async def submit_item(
    session: AsyncSession,
    meeting: m.Meeting,
    network: m.Network,
    person: m.Person,
    title: str,
    description: str,
    now: datetime,
) -> m.AgendaItem:
    """Before the deadline the item is accepted; after it, it waits for the coordinators."""
    title = title.strip()
    description = (description or "").strip()
    if not title:
        raise UserError(N_("Write the item's title. Example: /additem Sommerfest i juni | Hvem hjælper?"))
    if len(title) > MAX_TITLE:
        raise UserError(
            N_("That is too long ({length} characters; at most {limit})."), length=len(title), limit=MAX_TITLE
        )
    if len(description) > MAX_DESCRIPTION:
        raise UserError(
            N_("That is too long ({length} characters; at most {limit})."),
            length=len(description),
            limit=MAX_DESCRIPTION,
        )
    if meeting.status != "scheduled" or meeting.starts_at <= now:
        raise UserError(N_("That meeting can no longer be changed."))
    late = now > deadline_of(meeting, network)
    top = await session.scalar(
        select(func.max(m.AgendaItem.position)).where(m.AgendaItem.meeting_id == meeting.id)
    )
    item = m.AgendaItem(
        meeting_id=meeting.id,
        submitter_id=person.id,
        title=title,
        description=description,
        position=(top if top is not None else -1) + 1,
        late=late,
        status="pending" if late else "accepted",
        created_at=now,
    )
    session.add(item)
    await session.flush()
    return item


async def notify_late(
    session: AsyncSession,
    item: m.AgendaItem,
    network: m.Network,
    meeting: m.Meeting,
    admin_tg_ids: Iterable[int],
) -> int:
    """Send a late item to the coordinators to accept or decline; the group if none is known."""
    targets = await coordinators(session, network, admin_tg_ids, meeting)
    added = await enqueue_to_people(
        session,
        targets,
        kind=KIND_LATE,
        key=lambda person: f"mtgitem:{item.id}:late:p{person.id}",
        due_at=item.created_at,
        network_id=network.id,
        ref_id=item.id,
    )
    if not targets:
        added += await enqueue(
            session,
            kind=KIND_LATE,
            dedup_key=f"mtgitem:{item.id}:late:g",
            chat_id=network.chat_id,
            due_at=item.created_at,
            network_id=network.id,
            ref_id=item.id,
        )
    return added


async def decide_late(session: AsyncSession, item: m.AgendaItem, accept: bool, now: datetime) -> bool:
    """Accept or decline a late item; False when it was decided already (nothing changes)."""
    if item.status != "pending":
        return False
    item.status = "accepted" if accept else "declined"
    if accept:  # its files follow at once where the final agenda went already (bot.domain.attachments)
        await session.flush()
        await attachments.plan_for_accepted(session, item, now)
    if item.submitter_id is not None:
        submitter = await session.get(m.Person, item.submitter_id)
        if submitter is not None:
            meeting = await session.get(m.Meeting, item.meeting_id)
            assert meeting is not None
            await enqueue(
                session,
                kind=KIND_ITEM_DECIDED,
                dedup_key=f"mtgitem:{item.id}:decided",
                chat_id=submitter.tg_id,
                due_at=now,
                person_id=submitter.id,
                network_id=meeting.network_id,
                ref_id=item.id,
            )
    return True


async def move_item(session: AsyncSession, item: m.AgendaItem, direction: int) -> bool:
    """Swap the item with its neighbour above (-1) or below (+1); False at either end."""
    items = await items_of(session, item.meeting_id)
    # Positions may repeat after concurrent submissions: renumber in the order shown first.
    for i, it in enumerate(items):
        it.position = i
    idx = next(i for i, it in enumerate(items) if it.id == item.id)
    other = idx + direction
    if not 0 <= other < len(items):
        return False
    items[idx].position, items[other].position = items[other].position, items[idx].position
    await session.flush()
    return True


async def withdraw_item(session: AsyncSession, item: m.AgendaItem) -> bool:
    if item.status not in ("accepted", "pending"):
        return False
    item.status = "withdrawn"
    return True


# --- attendance ----------------------------------------------------------------------------------


async def may_take_part(session: AsyncSession, network_id: int, person: m.Person) -> bool:
    row = await session.scalar(
        select(m.Membership).where(m.Membership.network_id == network_id, m.Membership.person_id == person.id)
    )
    return row is not None and (row.is_member or row.is_follower or row.is_coordinator)


async def set_attendance(
    session: AsyncSession, meeting: m.Meeting, person: m.Person, status: str, now: datetime
) -> bool:
    """Record a person's answer; returns False when it did not change."""
    if status not in ATTENDANCE:
        raise UserError(N_("This button no longer works."))
    if not await may_take_part(session, meeting.network_id, person):
        raise NotAllowed(N_("Only the network's members and followers can answer this."))
    if meeting.status != "scheduled":
        raise UserError(N_("That meeting can no longer be changed."))
    # Insert-or-nothing first, so two quick presses by one person cannot both insert.
    inserted = await session.execute(
        insert_for(session, m.Attendance.__table__)
        .values(meeting_id=meeting.id, person_id=person.id, status=status, updated_at=now)
        .on_conflict_do_nothing(index_elements=["meeting_id", "person_id"])
    )
    if inserted.rowcount:  # type: ignore[attr-defined]
        return True
    row = await session.scalar(
        select(m.Attendance).where(m.Attendance.meeting_id == meeting.id, m.Attendance.person_id == person.id)
    )
    assert row is not None
    if row.status == status:
        return False
    row.status = status
    row.updated_at = now
    return True


async def attendance(session: AsyncSession, meeting_id: int) -> dict[str, list[m.Person]]:
    out: dict[str, list[m.Person]] = {s: [] for s in ATTENDANCE}
    rows = await session.execute(
        select(m.Attendance.status, m.Person)
        .join(m.Person, m.Person.id == m.Attendance.person_id)
        .where(m.Attendance.meeting_id == meeting_id)
        .order_by(m.Person.first_name, m.Person.id)
    )
    for status, person in rows:
        out.setdefault(status, []).append(person)
    return out
