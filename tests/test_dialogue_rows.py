"""Dialogue rows are written by one helper (handlers.dialogue.remember), stamped with the update's
time: the network choice of /newevent in a private chat and the objection asked privately."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from bot.db import models as m
from bot.testing.harness import BotHarness


async def test_network_choice_is_stored_with_the_updates_time_and_taken_once(
    clocked_bot: BotHarness, start_time: datetime
) -> None:
    bot = clocked_bot
    mette = bot.user(1, "Mette", "da", username="mette")
    first = bot.group("Integrationsnetværket Rudersdal", admins=[mette])
    second = bot.group("Venligboerne Rudersdal", admins=[mette])
    await bot.say(mette, "/setup", first)
    await bot.say(mette, "/setup", second)
    calls = await bot.say(mette, "/newevent Fællesspisning | tomorrow 18:00 | Egebæk Medborgerhus")
    choice = next(c for c in calls if c.buttons())
    async with bot.services.sessionmaker() as s:
        rows = (await s.scalars(select(m.Dialogue))).all()
    assert [(r.kind, r.chat_id, r.data) for r in rows] == [
        ("newevent_pick", mette.id, {"args": "Fællesspisning | tomorrow 18:00 | Egebæk Medborgerhus"})
    ]
    # The frozen clock, not the wall clock (which is days later).
    assert rows[0].updated_at == start_time
    await bot.press(mette, mette.id, choice.message_id or 0, "Venligboerne Rudersdal")
    async with bot.services.sessionmaker() as s:
        assert (await s.scalars(select(m.Dialogue))).all() == []
        event = (await s.scalars(select(m.Event))).one()
        network = await s.get(m.Network, event.network_id)
        assert network is not None and network.name == "Venligboerne Rudersdal"
