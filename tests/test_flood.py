"""Flood control through the real Application: one notice to the flooder in their language, then
silence for a minute, while others in the same group are answered; repeated actions count once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

import pytest
from sqlalchemy import func, select

from bot.db import models as m
from bot.domain.flood import FloodGuard
from bot.testing.fake_bot_api import FakeChat, FakeUser, private_chat
from bot.testing.harness import BotHarness, texts


class Ticks:
    """The flood guard's clock, moved by the test (no wall-clock timing in these tests)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def fbot(db_url: str, start_time: datetime) -> AsyncIterator[tuple[BotHarness, Ticks]]:
    async with BotHarness(db_url, now=start_time, settings={"flood_limit": 20}) as harness:
        ticks = Ticks()
        harness.services.flood_guard = FloodGuard(limit=20, group_limit=8, clock=ticks)
        yield harness, ticks


async def burst(bot: BotHarness, user: FakeUser, chat: FakeChat, texts_: list[str]) -> None:
    """Inject several messages at once (handled concurrently), then wait until all are handled."""
    for text in texts_:
        bot._injected += 1
        bot.api.inject_message(user, chat, text)
    await bot.settle()


async def _count(bot: BotHarness, model: type) -> int:
    async with bot.services.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


NOTICE_DA = "du sender kommandoer hurtigere, end jeg kan svare"
NOTICE_AR = "ترسل الأوامر أسرع مما أستطيع الرد"


async def test_flooder_in_a_group_gets_one_notice_and_others_are_answered(
    fbot: tuple[BotHarness, Ticks],
) -> None:
    bot, ticks = fbot
    admin = bot.user(1, "Mette", "da")
    group = bot.group("Netværket", admins=[admin])
    await bot.say(admin, "/setup", group)
    flooder = bot.user(7, "Karim", "ar")
    others = [bot.user(10 + i, f"Anden{i}", "da") for i in range(3)]
    bot.api.clear()
    # 8 commands in a group are answered; the 9th crosses the line; the rest are ignored.
    commands = ["/events", "/help"] * 15
    for i, text in enumerate(commands[:8]):
        replies = texts(await bot.say(flooder, text, group))
        assert replies and NOTICE_AR not in replies[0], (i, replies)
    notice = texts(await bot.say(flooder, commands[8], group))
    assert len(notice) == 1 and NOTICE_AR in notice[0] and "Karim" in notice[0]
    for text in commands[9:]:
        assert await bot.say(flooder, text, group) == []
    # Everyone else in the group is answered as usual, in the middle of it.
    for other in others:
        replies = texts(await bot.say(other, "/events", group))
        assert len(replies) == 1 and NOTICE_DA not in replies[0]
    # A minute later the flooder is heard again.
    ticks.now += 61
    replies = texts(await bot.say(flooder, "/events", group))
    assert len(replies) == 1 and NOTICE_AR not in replies[0]
    notices = [c for c in bot.api.sent_messages(group.id) if NOTICE_AR in (c.plain_text or "")]
    assert len(notices) == 1


async def test_flood_of_presses_in_private_is_noticed_once_in_their_language(
    fbot: tuple[BotHarness, Ticks],
) -> None:
    bot, ticks = fbot
    person = bot.user(8, "Sofie", "da")
    chat = private_chat(person)
    await bot.say(person, "/language")
    menu = next(c for c in bot.api.sent_messages(person.id) if c.buttons())
    labels = [b["text"] for b in menu.buttons()]
    answers: list[list[str]] = []
    for i in range(25):
        calls = await bot.press(person, chat, menu.message_id or 0, labels[i % 2])
        answers.append([str(c.params.get("text")) for c in calls if c.method == "answerCallbackQuery"])
    # "/language" and 19 presses are within the limit of 20; the 20th press crosses it.
    assert all(len(a) == 1 and NOTICE_DA not in a[0] for a in answers[:19]), answers
    assert len(answers[19]) == 1 and answers[19][0].startswith("Sofie, du sender kommandoer hurtigere")
    assert answers[20:] == [[]] * 5
    ticks.now += 61
    assert texts(await bot.say(person, "/help"))


async def test_a_repeated_command_arriving_at_once_creates_one_event(fbot: tuple[BotHarness, Ticks]) -> None:
    bot, _ = fbot
    admin = bot.user(1, "Mette", "da")
    group = bot.group("Netværket", admins=[admin])
    await bot.say(admin, "/setup", group)
    line = "/newevent Fællesspisning | 3. december kl. 17 | Egebæk"
    await burst(bot, admin, group, [line, line, "/newevent   Fællesspisning | 3. december kl. 17 | Egebæk"])
    assert await _count(bot, m.Event) == 1
    # The same command again later is a new request (the person means it).
    bot.services.flood_guard.clock.now += 5  # type: ignore[attr-defined]
    await bot.say(admin, line, group)
    assert await _count(bot, m.Event) == 2


async def test_a_double_tap_on_a_button_counts_once(fbot: tuple[BotHarness, Ticks]) -> None:
    bot, _ = fbot
    admin = bot.user(1, "Mette", "da")
    group = bot.group("Netværket", admins=[admin])
    await bot.say(admin, "/setup", group)
    calls = await bot.say(admin, "/newevent Fællesspisning | 3. december kl. 17 | Egebæk", group)
    card = next(c for c in calls if c.method == "sendMessage" and c.buttons())
    guest = bot.user(5, "Amal", "ar")
    data = next(b["callback_data"] for b in card.buttons() if b["text"] == "Deltager")
    for _ in range(2):
        bot._injected += 1
        bot.api.press_button(guest, group, card.message_id or 0, data)
    await bot.settle()
    async with bot.services.sessionmaker() as s:
        rows = (await s.scalars(select(m.Rsvp))).all()
    assert len(rows) == 1
