"""Moving a meeting replans its notices; cancelling one stops them. Nothing is sent twice."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.db import models as m
from bot.testing.harness import BotHarness, texts


async def pending(bot: BotHarness) -> list[m.Notice]:
    async with bot.services.sessionmaker() as s:
        q = select(m.Notice).where(m.Notice.state == "pending").order_by(m.Notice.due_at)
        return list((await s.scalars(q)).all())


async def test_move_and_cancel(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    mette = bot.user(1, "Mette", "da", username="mette")
    yonas = bot.user(2, "Yonas", "ti")
    group = bot.group("Integrationsforum", admins=[mette])
    await bot.say(mette, "/setup", group)
    await bot.say(mette, "/newmeeting 2027-02-04 16:30 | Marthas kontor, Birkerød", group)
    await bot.run_due()
    before = {n.dedup_key for n in await pending(bot)}
    assert len(before) == 9  # four later stages, their follower fan-outs, the minutes reminder
    assert "⚠️" in texts(await bot.say(yonas, "/movemeeting 1 | 2027-02-11 16:30", group))[-1]
    assert {n.dedup_key for n in await pending(bot)} == before
    bad = texts(await bot.say(mette, "/movemeeting 1 | i forgårs", group))[-1]
    assert "⚠️" in bad and {n.dedup_key for n in await pending(bot)} == before
    moved = texts(await bot.say(mette, "/movemeeting 1 | 2027-02-11 16:30", group))[-1]
    assert "torsdag den 11. februar 2027 16.30" in moved
    after = await pending(bot)
    assert not ({n.dedup_key for n in after} & before)
    final = next(n for n in after if n.payload.get("stage") == "final")
    assert final.due_at == datetime(2027, 2, 4, 15, 30, tzinfo=UTC)  # 16:30 Copenhagen, 7 days before
    assert "⚠️" in texts(await bot.say(mette, "/cancelmeeting 7", group))[-1]
    await bot.say(mette, "/cancelmeeting 1", group)
    assert await pending(bot) == []
    bot.clock.set(datetime(2027, 2, 20, 12, 0, tzinfo=UTC))
    assert await bot.run_due() == 0
    shown = texts(await bot.say(mette, "/meetings", group))[-1]
    assert "11. februar" not in shown
