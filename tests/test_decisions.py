"""The decisions log: recording, searching (case-insensitive, every word), pages, and /decisions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.db import models as m
from bot.db.engine import create_engine, create_sessionmaker
from bot.domain.decisions import record_decision, search_decisions
from bot.domain.errors import UserError
from bot.testing.harness import BotHarness


async def test_record_and_search(db_url: str) -> None:
    engine = create_engine(db_url)
    maker = create_sessionmaker(engine)
    t0 = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)
    try:
        async with maker() as s:
            a = m.Network(chat_id=-1, name="Rudersdal", slug="rudersdal")
            b = m.Network(chat_id=-2, name="Rådet", slug="raadet")
            s.add_all([a, b])
            await s.flush()
            texts = [
                "Sommerfesten holdes den 21. juni i Egebæk",
                "Budget 2027 for Integrationsnetværket",
                "ÆBLEHØST med børnene i oktober",
                "هل نقيم حفلة الصيف",
                "Vedtaget ved håndsoprækning: spilleaften uden skærme",
            ]
            for i, text in enumerate(texts):
                await record_decision(
                    s,
                    network_id=a.id,
                    kind="vote",
                    text=text,
                    outcome="adopted",
                    decided_at=t0 + timedelta(days=i),
                    details={"for": 3},
                )
            await record_decision(
                s,
                network_id=b.id,
                kind="minutes",
                text="Sommerfesten i Rådet",
                outcome="approved",
                decided_at=t0 + timedelta(days=10),
            )
            with pytest.raises(ValueError):
                await record_decision(s, network_id=a.id, kind="other", text="x", outcome="x", decided_at=t0)
            await s.commit()

            everything = await search_decisions(s, [a.id], "", 10, 0)
            assert [d.text for d in everything] == list(reversed(texts))  # newest first
            assert [d.text for d in await search_decisions(s, [a.id], "SOMMERFESTEN", 10, 0)] == [texts[0]]
            # every word must match, in any case, also beyond ASCII
            assert [d.text for d in await search_decisions(s, [a.id], "æblehøst BØRNENE", 10, 0)] == [
                texts[2]
            ]
            assert await search_decisions(s, [a.id], "æblehøst juni", 10, 0) == []
            assert [d.text for d in await search_decisions(s, [a.id], "الصيف", 10, 0)] == [texts[3]]
            # LIKE wildcards are taken literally
            assert await search_decisions(s, [a.id], "%", 10, 0) == []
            # scope: only the networks asked for
            both = await search_decisions(s, [a.id, b.id], "sommerfesten", 10, 0)
            assert [d.network_id for d in both] == [b.id, a.id]
            # pages
            page1 = await search_decisions(s, [a.id], "", 2, 0)
            page2 = await search_decisions(s, [a.id], "", 2, 2)
            page3 = await search_decisions(s, [a.id], "", 2, 4)
            assert [d.id for d in page1 + page2 + page3] == [d.id for d in everything]
            assert len(page3) == 1
            with pytest.raises(UserError):
                await search_decisions(s, [a.id], "a b c d e f g h i", 10, 0)
    finally:
        await engine.dispose()


async def test_decisions_command_in_group_and_private(bot: BotHarness) -> None:
    admin = bot.user(1, "Mette", "en", username="mette")
    group = bot.group("Netværk", admins=[admin])
    other_admin = bot.user(2, "Hanne", "en")
    other = bot.group("Andet", admins=[other_admin])
    await bot.say(admin, "/setup", group)
    await bot.say(admin, "/settings language en", group)
    await bot.say(other_admin, "/setup", other)
    for i in range(12):
        await bot.say(admin, f"/vote Forslag nummer {i} om sommerfest", group)
        await bot.say(admin, f"/handcount {i + 1} {i + 2} 1 0", group)
    await bot.say(other_admin, "/vote Hemmelig beslutning i det andet netværk", other)
    await bot.say(other_admin, "/closevote", other)

    calls = await bot.say(admin, "/decisions", group)
    # Only this chat's calls: the other group's vote card may be edited meanwhile (edits are paced).
    msg = next(c for c in calls if c.method == "sendMessage" and c.chat_id == group.id)
    text = msg.plain_text or ""
    assert "Forslag nummer 11" in text and "Forslag nummer 2 " in text and "Forslag nummer 1 " not in text
    assert "Hemmelig" not in text
    assert [b["text"] for b in msg.buttons()] == ["Older ›"]
    older = await bot.press(admin, group, msg.message_id, "Older ›")
    edit = next(c for c in older if c.method == "editMessageText" and c.chat_id == group.id)
    assert "Forslag nummer 0" in (edit.plain_text or "") and "Forslag nummer 11" not in (
        edit.plain_text or ""
    )
    # search: every word, any case
    found = next(
        c
        for c in await bot.say(admin, "/decisions SOMMERFEST nummer 7", group)
        if c.method == "sendMessage" and c.chat_id == group.id
    )
    assert "Forslag nummer 7" in (found.plain_text or "") and "nummer 8" not in (found.plain_text or "")
    none = next(
        c
        for c in await bot.say(admin, "/decisions vinterfest", group)
        if c.method == "sendMessage" and c.chat_id == group.id
    )
    assert "No decisions match" in (none.plain_text or "")
    # private: the networks the person belongs to, never the other one
    mine = next(
        c
        for c in await bot.say(admin, "/decisions hemmelig")
        if c.method == "sendMessage" and c.chat_id == admin.id
    )
    assert "Hemmelig" not in (mine.plain_text or "")
    theirs = next(
        c
        for c in await bot.say(other_admin, "/decisions hemmelig")
        if c.method == "sendMessage" and c.chat_id == other_admin.id
    )
    assert "Hemmelig beslutning" in (theirs.plain_text or "")
    stranger = bot.user(9, "Ny", "da")
    out = next(
        c
        for c in await bot.say(stranger, "/decisions")
        if c.method == "sendMessage" and c.chat_id == stranger.id
    )
    assert "Forslag" not in (out.plain_text or "") and "/subscribe" in (out.plain_text or "")
