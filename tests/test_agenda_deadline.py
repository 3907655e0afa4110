"""The agenda deadline is a moment (date AND time), not a day: an item sent minutes before it is
accepted, one sent minutes after it on the same day waits for the coordinators as late."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.db import models as m
from bot.testing.harness import BotHarness, texts


async def _items(bot: BotHarness) -> dict[str, tuple[bool, str]]:
    async with bot.services.sessionmaker() as s:
        rows = (await s.scalars(select(m.AgendaItem))).all()
        return {r.title: (r.late, r.status) for r in rows}


async def test_items_minutes_before_and_after_the_deadline_on_the_same_day(clocked_bot: BotHarness) -> None:
    bot = clocked_bot  # Monday 23 November 2026, 10:00 in Copenhagen (UTC+1)
    mette = bot.user(1, "Mette", "da")
    yonas = bot.user(2, "Yonas", "da")
    group = bot.group("Integrationsnetværket", admins=[mette])
    await bot.say(mette, "/setup", group)
    await bot.say(yonas, "/help", group)
    planned = texts(await bot.say(mette, "/newmeeting 2026-12-10 17:00 | Rådhuset", group))[-1]
    # the network's default: items are due 10 days before, at the meeting's own time of day
    assert "mandag den 30. november 2026 17.00" in planned, planned
    deadline = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # 17:00 in Copenhagen

    bot.clock.set(deadline.replace(hour=15, minute=55))  # 16:55 local, the same day
    await bot.say(yonas, "/additem Fem minutter før", group)
    bot.clock.set(deadline)  # exactly at the deadline: still on time
    await bot.say(yonas, "/additem Præcis til tiden", group)
    bot.clock.set(deadline.replace(minute=1))  # 17:01 local, the same day
    await bot.say(yonas, "/additem Et minut efter", group)
    bot.clock.set(deadline.replace(hour=22, minute=59))  # 23:59 local, still the same day
    await bot.say(yonas, "/additem Sent om aftenen", group)

    assert await _items(bot) == {
        "Fem minutter før": (False, "accepted"),
        "Præcis til tiden": (False, "accepted"),
        "Et minut efter": (True, "pending"),
        "Sent om aftenen": (True, "pending"),
    }
