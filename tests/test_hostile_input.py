"""Oversized and hostile input through the real Application: 4,096-character titles, a 64 KB text
document as minutes, right-to-left overrides and zero-width characters in names and titles, HTML in
every field. Stored safely, shown escaped, never breaking a message (the fake answers 400 for bad
HTML and for texts over 4,096 characters) or the line of another person."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from bot.db import models as m
from bot.testing.fake_bot_api import Call, FakeUser
from bot.testing.harness import BotHarness, texts

RLO, LRO, RLE, PDF, LRI, RLI, FSI, PDI = (
    "\u202e",
    "\u202d",
    "\u202b",
    "\u202c",
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",
)
ZWSP, WJ, BOM = "\u200b", "\u2060", "\ufeff"
FORBIDDEN = (RLO, LRO, RLE, PDF, LRI, RLI, ZWSP, WJ, BOM)


@pytest.fixture
def start_time() -> datetime:
    return datetime(2027, 3, 10, 9, 0, tzinfo=UTC)


def sent(bot: BotHarness) -> list[Call]:
    return [
        c
        for c in bot.api.all_calls
        if c.method in ("sendMessage", "editMessageText", "sendDocument", "editMessageCaption")
    ]


def assert_all_messages_sound(bot: BotHarness) -> None:
    """Every message accepted by the fake (valid HTML, <= 4096 characters, captions <= 1024); no
    direction override or invisible space shown; every isolate closed on its own line."""
    calls = sent(bot)
    assert calls
    for c in calls:
        assert c.ok, (c, c.description)
        raw = str(c.params.get("text") or c.params.get("caption") or "")
        assert len(raw) <= (1024 if "caption" in c.params else 4096), c
        for ch in FORBIDDEN:
            assert ch not in raw, (c, hex(ord(ch)))
        for line in raw.split("\n"):
            assert line.count(FSI) == line.count(PDI), (c, line)


async def _count(bot: BotHarness, model: type) -> int:
    async with bot.services.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_overrides_zero_width_and_html_in_names_and_every_event_field(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin = bot.user(1, f"Mette{RLO}</b><i>", "da", username="mette")
    group = bot.group(f"Net<b>værk{RLO} & co", admins=[admin])
    await bot.say(admin, "/setup", group)
    async with bot.services.sessionmaker() as s:
        slug = await s.scalar(select(m.Network.slug))
    hostile = bot.user(7, f"{RLO}<a href='https://evil.example'>Ali</a>{LRI}{ZWSP}", "ar")
    reader = bot.user(8, "Sara", "ar")
    await bot.say(reader, f"/start net_{slug}")
    await bot.say(hostile, f"/start net_{slug}")
    await bot.say(hostile, "/events", group)
    await bot.say(admin, "/newevent Fællesspisning | 2027-03-12 17:00 | Egebæk", group)
    calls = await bot.say(
        hostile,
        f"/newevent {RLO}Fest <script>alert(1)</script>{ZWSP}{PDI} | 2027-03-13 18:00 | "
        f"<b>Hus{RLO} | </i>beskrivelse & {WJ}mere{BOM}",
        group,
    )
    card = next(c for c in calls if c.chat_id == group.id and c.buttons())
    assert "Fest <script>alert(1)</script>" in (card.plain_text or "")
    assert "&lt;script&gt;" in card.params["text"]
    # Stored without the overrides and invisible characters, the HTML kept as text.
    async with bot.services.sessionmaker() as s:
        event = await s.scalar(
            select(m.Event).where(m.Event.creator_id.is_not(None)).order_by(m.Event.id.desc())
        )
        assert event is not None
        assert (event.title, event.place, event.description) == (
            "Fest <script>alert(1)</script>",
            "<b>Hus",
            "</i>beskrivelse & mere",
        )
    await bot.run_due()
    # The listing: the other event's line reads exactly as it would without its hostile neighbour.
    listing = texts(await bot.say(reader, "/events"))
    lines = "\n".join(listing).split("\n")
    assert any("Fest <script>alert(1)</script>" in line for line in lines)
    plain_line = next(line for line in lines if "Fællesspisning" in line)
    assert RLO not in plain_line and "Fest" not in plain_line
    # Names shown escaped and without overrides (the attendee list, the card's creator).
    await bot.press(hostile, group, card.message_id or 0, "Deltager")
    await bot.say(admin, "/events", group)
    assert_all_messages_sound(bot)


async def test_4096_character_titles_are_refused_in_one_short_message(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin = bot.user(1, "Mette", "da")
    group = bot.group("Netværket", admins=[admin])
    await bot.say(admin, "/setup", group)
    long = ("<b>x</b>&" * 500)[:4096]
    for command in (
        f"/newevent {long} | 2027-03-12 17:00 | Egebæk",
        f"/newevent Fest | 2027-03-12 17:00 | {long}",
        f"/newmeeting 2027-04-06 17:00 | Rådhuset | {long}",
        f"/vote {long}",
    ):
        replies = texts(await bot.say(admin, command[:4096], group))
        assert len(replies) == 1 and replies[0].startswith("⚠️"), (command[:30], replies)
    # The guided dialogue: a 4,096-character answer is refused and the question asked again.
    await bot.say(admin, "/newevent")
    replies = texts(await bot.say(admin, long))
    assert replies and replies[0].startswith("⚠️")
    assert await _count(bot, m.Event) == 0
    assert await _count(bot, m.Vote) == 0
    assert_all_messages_sound(bot)


async def test_long_escaped_text_is_split_without_breaking_an_entity(clocked_bot: BotHarness) -> None:
    """A broadcast of 3,500 characters that each escape to 4 or 5 (<, >, &): several times the limit
    once escaped. The followers' copy (one message) is cut between characters, never inside an
    entity, with "…"; every message the bot sent is valid."""
    bot = clocked_bot
    admin = bot.user(1, "Mette", "da")
    group = bot.group("Netværket", admins=[admin])
    await bot.say(admin, "/setup", group)
    follower = bot.user(5, "Sara", "da")
    await bot.say(follower, "/start net_netvaerket")
    body = ("<&>" * 1200)[:3500]
    await bot.say(admin, f"/broadcast {body}", group)
    await bot.run_due()
    copy = bot.api.sent_messages(follower.id)[-1]
    shown = (copy.plain_text or "").split("\n\n", 1)[1]
    assert shown.endswith("…") and body.startswith(shown[:-1]) and len(shown) > 700
    assert "&am" not in shown and "&l" not in shown
    assert_all_messages_sound(bot)


async def _past_meeting(bot: BotHarness) -> tuple[FakeUser, int, FakeUser]:
    mette = bot.user(1, "Mette", "da")
    group = bot.group("Netværket", admins=[mette])
    await bot.say(mette, "/setup", group)
    yonas = bot.user(2, f"Yonas{RLO}<i>", "ti")
    await bot.say(yonas, "/start")
    await bot.say(mette, "/newmeeting 2027-04-06 17:00 | Rådhuset", group)
    await bot.run_due()
    async with bot.services.sessionmaker() as s:
        notice = await s.scalar(
            select(m.Notice).where(
                m.Notice.state == "sent", m.Notice.kind == "mtg_stage", m.Notice.chat_id == group.id
            )
        )
        assert notice is not None
    await bot.press(yonas, group.id, notice.message_id or 0, "Deltager")
    bot.clock.set(datetime(2027, 4, 8, 10, 0, tzinfo=UTC))
    await bot.run_due()
    return mette, group.id, yonas


async def test_64_kb_text_document_as_minutes(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    mette, group_id, yonas = await _past_meeting(bot)
    group = next(c for c in bot.api._chats.values() if c["id"] == group_id)
    from bot.testing.fake_bot_api import group_chat

    chat = group_chat(group_id, group["title"])
    text = ("Punkt 1: <b>budget</b> & regnskab " + RLO + " godkendt.\n") * 1800
    data = text.encode()[: 64 * 1024]
    caption = f"Referat <i>6/4</i>{RLO}{ZWSP} & bilag"
    await bot.say(mette, None, chat, document=("referat.txt", data), caption=caption)  # type: ignore[arg-type]
    doc_msg = max(bot.api.messages[group_id])
    posted = await bot.say(mette, "/minutes 1", chat, reply_to_message_id=doc_msg)
    in_group = next(c for c in posted if c.method == "sendMessage" and c.chat_id == group_id)
    assert "Referat <i>6/4</i> & bilag" in (in_group.plain_text or "")
    await bot.run_due()
    copy = next(c for c in bot.api.calls("sendDocument") if c.chat_id == yonas.id)
    assert (
        copy.ok and copy.params.get("document") == bot.api.messages[group_id][doc_msg]["document"]["file_id"]
    )
    assert_all_messages_sound(bot)


async def test_minutes_as_a_4096_character_text_of_html(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    mette, group_id, yonas = await _past_meeting(bot)
    from bot.testing.fake_bot_api import group_chat

    chat = group_chat(group_id, "Netværket")
    text = ("<b>Beslutning</b> & " + RLO + "\n") * 200
    text = text[:4096]
    await bot.say(mette, text, chat)
    src = max(bot.api.messages[group_id])
    await bot.say(mette, "/minutes 1", chat, reply_to_message_id=src)
    await bot.run_due()
    to_yonas = [c for c in sent(bot) if c.chat_id == yonas.id]
    assert to_yonas and any("<b>Beslutning</b> &" in (c.plain_text or "") for c in to_yonas)
    assert_all_messages_sound(bot)
