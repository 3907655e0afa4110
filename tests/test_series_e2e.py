"""End-to-end: repeating events through the real Application (both backends), in da, ar, ti and en."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.db import models as m
from bot.testing.harness import BotHarness, texts


async def _setup(bot: BotHarness, lang: str = "da"):  # type: ignore[no-untyped-def]
    admin = bot.user(1, "Mette", lang, username="mette")
    group = bot.group("Integrationsnetværket Rudersdal", admins=[admin])
    await bot.say(admin, "/setup", group)
    return admin, group


async def _rows(bot: BotHarness, model: type, *where: object) -> list:  # type: ignore[type-arg]
    async with bot.services.sessionmaker() as s:
        return list((await s.scalars(select(model).where(*where))).all())


async def _count(bot: BotHarness, model: type, *where: object) -> int:
    async with bot.services.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# (language, the weekly open house as people write it, what /events shows of the rhythm, weekday word)
WEEKLY = [
    ("da", "hver torsdag kl. 16.30-18.30", "hver torsdag"),
    ("en", "every Thursday 16:30-18:30", "every Thursday"),
    ("ar", "كل خميس الساعة 16:30-18:30", "الخميس"),
    ("ti", "ኩሉ ሓሙስ ሰዓት 16:30-18:30", "ሓሙስ"),
]


@pytest.mark.parametrize(("lang", "when", "rhythm"), WEEKLY)
async def test_weekly_open_house(clocked_bot: BotHarness, lang: str, when: str, rhythm: str) -> None:
    bot = clocked_bot
    admin, group = await _setup(bot)
    follower = bot.user(5, "Amal", lang)
    await bot.say(follower, "/start net_integrationsnetvaerket-rudersdal")
    await bot.say(admin, "/language", group)
    person = bot.user(2, "Yonas", lang)
    await bot.say(person, "/start")
    await bot.say(person, "hi", group)  # a member of the group
    calls = await bot.say(person, f"/newevent Åbent hus | {when} | Rudersdal Bibliotek", group)
    card = next(c for c in calls if c.method == "sendMessage" and c.chat_id == group.id)
    # The group reads Danish: the card says when the first one is, and the rhythm.
    assert "torsdag den 26. november 2026" in (card.plain_text or ""), card.plain_text
    assert "16.30" in (card.plain_text or "") and "18.30" in (card.plain_text or "")
    assert "hver torsdag" in (card.plain_text or "")
    # Occurrences exist up to the horizon (8 weeks), each its own row; one series.
    events = await _rows(bot, m.Event)
    assert len(events) == 8
    assert len({e.series_id for e in events}) == 1
    assert [e.starts_at.astimezone(UTC).hour for e in events] == [15] * 8  # 16.30 winter time
    await bot.run_due()
    to_follower = [c for c in bot.api.all_calls if c.method == "sendMessage" and c.chat_id == follower.id]
    announcements = [c for c in to_follower if "Åbent hus" in (c.plain_text or "")]
    assert len(announcements) == 1  # one announcement for the series
    listing = texts(await bot.say(follower, "/events"))[-1]
    assert listing.count("Åbent hus") == 1
    assert rhythm in listing, listing
