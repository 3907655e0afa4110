"""Minutes posted as a file reach the attendees as that file (by its Telegram file_id), with a caption
in their language and the Object button; the Object button on the private copy works."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from bot.db import models as m
from bot.testing.harness import BotHarness


@pytest.fixture
def start_time() -> datetime:
    return datetime(2027, 3, 10, 9, 0, tzinfo=UTC)


def geez(text: str) -> bool:
    return any("\u1200" <= ch <= "\u137f" for ch in text)


def arabic(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


async def test_minutes_as_a_document(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    mette = bot.user(1, "Mette", "da", username="mette")
    yonas = bot.user(2, "Yonas", "ti")  # attends
    hassan = bot.user(3, "Hassan", "da")  # sends regrets: no copy
    sara = bot.user(4, "Sara", "ar")  # follower who substitutes
    group = bot.group("Integrationsnetværket Rudersdal", admins=[mette])
    await bot.say(mette, "/setup", group)
    await bot.say(hassan, "/help", group)
    await bot.say(sara, "/start net_integrationsnetvaerket-rudersdal")
    await bot.say(mette, "/newmeeting 2027-04-06 17:00 | Rådhuset", group)
    await bot.run_due()
    async with bot.services.sessionmaker() as s:
        rows = (
            await s.scalars(select(m.Notice).where(m.Notice.state == "sent", m.Notice.kind == "mtg_stage"))
        ).all()
        group_call = next(n for n in rows if n.chat_id == group.id)
        sara_call = next(n for n in rows if n.chat_id == sara.id)
    await bot.press(yonas, group.id, group_call.message_id or 0, "Deltager")
    await bot.press(hassan, group.id, group_call.message_id or 0, "Afbud")
    await bot.press(sara, sara.id, sara_call.message_id or 0, "يحضر بديل عني")

    bot.clock.set(datetime(2027, 4, 8, 10, 0, tzinfo=UTC))
    await bot.run_due()
    await bot.say(mette, None, group, document=("referat.pdf", b"%PDF-1.4 referat"), caption="Referat 6/4")  # type: ignore[arg-type]
    doc_msg = max(bot.api.messages[group.id])
    file_id = bot.api.messages[group.id][doc_msg]["document"]["file_id"]
    posted = await bot.say(mette, "/minutes 1", group, reply_to_message_id=doc_msg)
    in_group = next(c for c in posted if c.method == "sendMessage" and c.chat_id == group.id)
    assert "Referat 6/4" in (in_group.plain_text or "")
    assert [b["text"] for b in in_group.buttons()] == ["Gør indsigelse"]
    await bot.run_due()

    docs = [c for c in bot.api.all_calls if c.method == "sendDocument" and c.ok]
    assert sorted(c.chat_id or 0 for c in docs) == sorted([yonas.id, sara.id])
    for c in docs:
        assert c.params["document"] == file_id  # the same file, not a re-upload
        assert c.response["document"]["file_id"] == file_id
        assert c.response["document"]["file_name"] == "referat.pdf"
    to_yonas = next(c for c in docs if c.chat_id == yonas.id)
    caption = to_yonas.plain_text or ""
    assert geez(caption) and "Integrationsnetværket Rudersdal" in caption and "Referat 6/4" in caption
    assert "file posted in the group" not in caption
    assert [b["text"] for b in to_yonas.buttons()] == ["ተቓውሞ ኣቕርቡ"]
    to_sara = next(c for c in docs if c.chat_id == sara.id)
    assert arabic(to_sara.plain_text or "")
    # no text copy besides the file
    assert not [
        c
        for c in bot.api.all_calls
        if c.method == "sendMessage" and c.chat_id == yonas.id and "Referat" in (c.plain_text or "")
    ]
    async with bot.services.sessionmaker() as s:
        copies = (await s.scalars(select(m.Notice).where(m.Notice.kind == "mtg_minutes"))).all()
        assert sorted((n.chat_id, n.state) for n in copies) == sorted([(yonas.id, "sent"), (sara.id, "sent")])

    # Object on the private copy asks for the reason, and the objection reaches the group.
    asked = await bot.press(yonas, yonas.id, to_yonas.message_id or 0, 1)
    assert any(c.method == "sendMessage" and c.chat_id == yonas.id for c in asked)
    objected = await bot.say(yonas, "Punkt 2 mangler.")
    assert any(c.chat_id == group.id and "Punkt 2 mangler." in (c.plain_text or "") for c in objected)
