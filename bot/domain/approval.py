"""Announcement caps and coordinators' approval of members' events (SPEC: Privacy and safety).

A member who is not a coordinator has at most `DAILY_CAP` events a day (the network's calendar day)
announced to followers; later ones are created and listed, not announced. A network may require a
coordinator's approval before members' events are announced (`/settings approval on`).

States of `Event.announcement`: announced | capped | pending | rejected.
"""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain import events as ev
from bot.domain.errors import UserError
from bot.i18n import N_
from bot.schedule.notices import enqueue, enqueue_many

DAILY_CAP = 3

ANNOUNCED, CAPPED, PENDING, REJECTED = "announced", "capped", "pending", "rejected"


def day_start(now: datetime, timezone: str) -> datetime:
    """Midnight of `now`'s day in the network's time zone (aware)."""
    tz = ZoneInfo(timezone)
    local = now.astimezone(tz)
    return datetime.combine(local.date(), time(0), tzinfo=tz)


async def announced_today(session: AsyncSession, network: m.Network, person: m.Person, now: datetime) -> int:
    """The person's announcements in this network made today (announced or waiting for approval). A
    series is one announcement: its occurrences count once, and only on the day the series was made
    (the horizon adds occurrences later without announcing them)."""
    start = day_start(now, network.timezone)
    one_per_series = func.coalesce(-m.Event.series_id, m.Event.id)
    return int(
        await session.scalar(
            select(func.count(func.distinct(one_per_series)))
            .select_from(m.Event)
            .outerjoin(m.Series, m.Series.id == m.Event.series_id)
            .where(
                m.Event.network_id == network.id,
                m.Event.creator_id == person.id,
                m.Event.announcement.in_((ANNOUNCED, PENDING)),
                m.Event.created_at >= start,
                m.Event.series_id.is_(None) | (m.Series.created_at >= start),
            )
        )
        or 0
    )


async def decide_on_creation(
    session: AsyncSession,
    event: m.Event,
    network: m.Network,
    person: m.Person,
    *,
    coordinator: bool,
    chat_id: int,
    now: datetime,
) -> str:
    """Set and return the new event's announcement state. Call after the event is flushed."""
    event.announce_chat_id = chat_id
    if coordinator:
        event.announcement = ANNOUNCED
        return ANNOUNCED
    await session.flush()
    earlier = await announced_today(session, network, person, now) - (
        1 if event.announcement in (ANNOUNCED, PENDING) else 0
    )
    if earlier >= DAILY_CAP:
        event.announcement = CAPPED
    elif network.require_approval:
        event.announcement = PENDING
    else:
        event.announcement = ANNOUNCED
    await session.flush()
    return event.announcement


async def announce_to_followers(
    session: AsyncSession, event: m.Event, network: m.Network, now: datetime
) -> int:
    """The `event_new` notice to every follower but the creator (same keys as at creation, so it is
    never planned twice)."""
    followers = await ev.audience(session, event, followers=True, rsvped=False)
    rows = [
        {
            "kind": "event_new",
            "dedup_key": f"evnew:{event.id}:{p.id}",
            "chat_id": p.tg_id,
            "due_at": now,
            "person_id": p.id,
            "network_id": network.id,
            "ref_id": event.id,
        }
        for p in followers
        if p.id != event.creator_id
    ]
    return await enqueue_many(session, rows)


async def decide(
    session: AsyncSession, event_id: int, *, approve: bool, by: m.Person, now: datetime
) -> m.Event:
    """A coordinator's decision on a pending event (the caller has checked that `by` coordinates the
    event's network). Exactly one decision wins when two coordinators press at once."""
    result = await session.execute(
        update(m.Event)
        .where(m.Event.id == event_id, m.Event.announcement == PENDING)
        .values(announcement=ANNOUNCED if approve else REJECTED)
        .execution_options(synchronize_session=False)
    )
    event = await session.get(m.Event, event_id, populate_existing=True)
    if event is None:
        raise UserError(N_("This button no longer works."))
    if getattr(result, "rowcount", 0) != 1:
        if event.announcement == ANNOUNCED:
            raise UserError(N_("This event was already approved."))
        if event.announcement == REJECTED:
            raise UserError(N_("This event was already rejected."))
        raise UserError(N_("This button no longer works."))
    network = await session.get(m.Network, event.network_id)
    assert network is not None
    if approve and event.status == "scheduled":
        await announce_to_followers(session, event, network, now)
    creator = await session.get(m.Person, event.creator_id) if event.creator_id else None
    if creator is not None and event.announce_chat_id is not None:
        await enqueue(
            session,
            kind="approval_outcome",
            dedup_key=f"approut:{event.id}",
            chat_id=event.announce_chat_id,
            due_at=now,
            person_id=creator.id,
            network_id=network.id,
            ref_id=event.id,
            payload={"approved": approve, "by": by.display_name},
        )
    return event


def set_required(network: m.Network, words: list[str]) -> None:
    """`/settings approval on|off`."""
    value = words[0].lower() if words else ""
    if value in ("on", "yes", "ja", "1", "true"):
        network.require_approval = True
    elif value in ("off", "no", "nej", "0", "false"):
        network.require_approval = False
    else:
        raise UserError(
            N_(
                "To require a coordinator's approval of members' events, write /settings approval on; to stop it, write /settings approval off."
            )
        )
