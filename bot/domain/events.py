"""Events: create, list, RSVP, cancel, edit. Pure async functions on a session (no Telegram)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain.errors import NotAllowed, NotFound, UserError
from bot.domain.people import insert_for
from bot.i18n import N_

MAX_TITLE = 120
MAX_PLACE = 200
MAX_DESCRIPTION = 2000
EXAMPLE = "/newevent Fællesspisning | 3. december kl. 17 | Egebæk Medborgerhus | Alle er velkomne"
PAGE = 10


def check_text(kind: str, value: str) -> str:
    value = value.strip()
    limits = {"title": MAX_TITLE, "place": MAX_PLACE, "description": MAX_DESCRIPTION}
    limit = limits[kind]
    if kind != "description" and not value:
        raise UserError(N_("Missing: {field}. Example: {example}"), field=kind, example=EXAMPLE)
    if len(value) > limit:
        if kind == "title":
            raise UserError(
                N_("The title is too long ({length} characters; at most {limit}). Example: {example}"),
                length=len(value),
                limit=limit,
                example=EXAMPLE,
            )
        if kind == "place":
            raise UserError(
                N_("The place is too long ({length} characters; at most {limit}). Example: {example}"),
                length=len(value),
                limit=limit,
                example=EXAMPLE,
            )
        raise UserError(
            N_("The description is too long ({length} characters; at most {limit}). Example: {example}"),
            length=len(value),
            limit=limit,
            example=EXAMPLE,
        )
    return value


async def create(
    session: AsyncSession,
    network: m.Network,
    creator: m.Person | None,
    *,
    title: str,
    starts_at: datetime,
    place: str,
    description: str = "",
    ends_at: datetime | None = None,
    language: str,
    now: datetime,
) -> m.Event:
    event = m.Event(
        network_id=network.id,
        creator_id=creator.id if creator else None,
        title=check_text("title", title),
        place=check_text("place", place),
        description=check_text("description", description or ""),
        starts_at=starts_at,
        ends_at=ends_at,
        language=language,
        status="scheduled",
        sequence=0,
        created_at=now,
        updated_at=now,
    )
    session.add(event)
    await session.flush()
    return event


async def get_event(session: AsyncSession, event_id: int) -> m.Event:
    event = await session.get(m.Event, event_id)
    if event is None:
        raise NotFound(N_("There is no event with that number. /events lists the upcoming ones."))
    return event


def parse_event_id(text: str) -> int:
    raw = text.strip().lstrip("#")
    if not raw.isdecimal() or len(raw) > 12:
        raise UserError(N_("Give the event's number, for example: {example}"), example="/event 12")
    return int(raw)


async def going_count(session: AsyncSession, event_id: int) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(m.Rsvp)
            .where(m.Rsvp.event_id == event_id, m.Rsvp.status == "going")
        )
        or 0
    )


async def rsvp_of(session: AsyncSession, event_id: int, person_id: int) -> m.Rsvp | None:
    return await session.scalar(
        select(m.Rsvp).where(m.Rsvp.event_id == event_id, m.Rsvp.person_id == person_id)
    )


def require_open(event: m.Event, now: datetime) -> None:
    if event.status == "cancelled":
        raise UserError(N_("This event was cancelled."))
    if event.starts_at <= now:
        raise UserError(N_("This event has already taken place."))


async def _rsvp_row(session: AsyncSession, event: m.Event, person: m.Person, now: datetime) -> m.Rsvp:
    """The person's row for this event, created if missing (two quick presses cannot both insert)."""
    await session.execute(
        insert_for(session, m.Rsvp.__table__)
        .values(event_id=event.id, person_id=person.id, status=None, remind=False, updated_at=now)
        .on_conflict_do_nothing(index_elements=["event_id", "person_id"])
    )
    row = await rsvp_of(session, event.id, person.id)
    assert row is not None
    return row


async def set_rsvp(
    session: AsyncSession, event: m.Event, person: m.Person, status: str, now: datetime
) -> bool:
    """Going / not going. Returns False when nothing changed (a second identical press)."""
    require_open(event, now)
    row = await _rsvp_row(session, event, person, now)
    if row.status == status:
        return False
    row.status = status
    row.updated_at = now
    return True


async def set_remind(session: AsyncSession, event: m.Event, person: m.Person, now: datetime) -> bool:
    require_open(event, now)
    row = await _rsvp_row(session, event, person, now)
    if row.remind:
        return False
    row.remind = True
    row.updated_at = now
    return True


async def may_manage(
    session: AsyncSession, event: m.Event, person: m.Person | None, is_coordinator: bool
) -> None:
    if person is not None and event.creator_id == person.id:
        return
    if is_coordinator:
        return
    raise NotAllowed(N_("Only the person who created the event or a coordinator can change it."))


async def cancel(session: AsyncSession, event: m.Event, now: datetime) -> None:
    if event.status == "cancelled":
        raise UserError(N_("This event was cancelled."))
    event.status = "cancelled"
    event.sequence += 1
    event.updated_at = now


async def going_people(session: AsyncSession, event_id: int) -> Sequence[m.Person]:
    rows = await session.scalars(
        select(m.Person)
        .join(m.Rsvp, m.Rsvp.person_id == m.Person.id)
        .where(m.Rsvp.event_id == event_id, m.Rsvp.status == "going")
    )
    return rows.all()


async def audience(
    session: AsyncSession, event: m.Event, *, followers: bool, rsvped: bool
) -> Sequence[m.Person]:
    """People to tell about the event: its followers and/or everyone who answered it."""
    conditions = []
    if followers:
        conditions.append(
            m.Person.id.in_(
                select(m.Membership.person_id).where(
                    m.Membership.network_id == event.network_id, m.Membership.is_follower.is_(True)
                )
            )
        )
    if rsvped:
        conditions.append(
            m.Person.id.in_(
                select(m.Rsvp.person_id).where(
                    m.Rsvp.event_id == event.id, (m.Rsvp.status == "going") | m.Rsvp.remind.is_(True)
                )
            )
        )
    if not conditions:
        return []
    cond = conditions[0] if len(conditions) == 1 else conditions[0] | conditions[1]
    rows = await session.scalars(
        select(m.Person).where(m.Person.reachable.is_(True), cond).order_by(m.Person.id)
    )
    return rows.all()


def series_next_only(now: datetime) -> Any:
    from bot.domain.series import next_only

    return next_only(now)


@dataclass
class Page:
    events: list[m.Event]
    networks: dict[int, m.Network]
    more: bool


async def upcoming(
    session: AsyncSession, network_ids: Sequence[int], now: datetime, limit: int = PAGE, offset: int = 0
) -> Page:
    if not network_ids:
        return Page([], {}, False)
    rows = list(
        (
            await session.scalars(
                select(m.Event)
                .where(
                    m.Event.network_id.in_(list(network_ids)),
                    m.Event.starts_at > now,
                    m.Event.status == "scheduled",
                    series_next_only(now),  # series hook: each series once, at its next occurrence
                )
                .order_by(m.Event.starts_at, m.Event.id)
                .offset(offset)
                .limit(limit + 1)
            )
        ).all()
    )
    more = len(rows) > limit
    rows = rows[:limit]
    nets = {}
    ids = {e.network_id for e in rows}
    if ids:
        nets = {
            n.id: n for n in (await session.scalars(select(m.Network).where(m.Network.id.in_(ids)))).all()
        }
    return Page(rows, nets, more)


async def member_networks(session: AsyncSession, person: m.Person) -> Sequence[m.Network]:
    """Networks where the person may create events (members of the group, named coordinators)."""
    rows = await session.scalars(
        select(m.Network)
        .join(m.Membership, m.Membership.network_id == m.Network.id)
        .where(
            m.Membership.person_id == person.id,
            m.Membership.is_member.is_(True) | m.Membership.is_coordinator.is_(True),
        )
        .order_by(m.Network.name)
    )
    return rows.all()


def bump(event: m.Event, now: datetime) -> None:
    event.sequence += 1
    event.updated_at = now
