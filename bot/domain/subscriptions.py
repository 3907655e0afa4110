"""Following networks and choosing reminder lead times; every change re-plans the person's reminders."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.db import models as m
from bot.domain import people
from bot.domain.errors import UserError
from bot.domain.reminders import LEAD_TIMES, format_minutes, parse_minutes, plan_person_reminders
from bot.i18n import N_


async def follow(session: AsyncSession, network: m.Network, person: m.Person, now: datetime) -> bool:
    new = await people.follow(session, network, person, now)
    if new:
        await session.flush()
        await plan_person_reminders(session, person.id, now)
    return new


async def unfollow(session: AsyncSession, network: m.Network, person: m.Person, now: datetime) -> bool:
    gone = await people.unfollow(session, network, person)
    if gone:
        await session.flush()
        await plan_person_reminders(session, person.id, now)
    return gone


async def unfollow_all(session: AsyncSession, person: m.Person, now: datetime) -> int:
    n = 0
    for network in await people.followed_networks(session, person):
        n += int(await people.unfollow(session, network, person))
    await session.flush()
    await plan_person_reminders(session, person.id, now)
    return n


async def set_lead_times(session: AsyncSession, person: m.Person, minutes: list[int], now: datetime) -> None:
    if not minutes or any(x not in LEAD_TIMES for x in minutes):
        raise UserError(N_("Choose at least one reminder time. /unsubscribe stops reminders altogether."))
    person.reminder_minutes = format_minutes(minutes)
    await session.flush()
    await plan_person_reminders(session, person.id, now)


async def toggle_lead_time(session: AsyncSession, person: m.Person, minutes: int, now: datetime) -> list[int]:
    if minutes not in LEAD_TIMES:
        raise UserError(N_("This button no longer works."))
    chosen = set(parse_minutes(person.reminder_minutes))
    chosen ^= {minutes}
    await set_lead_times(session, person, sorted(chosen), now)
    return sorted(chosen)
