"""A handler that fails: the person gets an apology in their language; the log has no text or token."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from bot.db import models as m
from bot.domain import people
from bot.testing.harness import BotHarness, texts


async def test_failure_apologises_in_language_and_logs_no_text(
    bot: BotHarness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret_words = "Fællesspisning hos Amina på Egebækvej 12"

    async def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError(f"exploded while reading {secret_words}")

    amina = bot.user(7, "Amina", "da")
    await bot.say(amina, "/language")
    # She chose Arabic earlier; Telegram still says Danish: the apology follows her choice.
    msg = next(c for c in bot.api.calls("sendMessage", amina.id))
    await bot.press(amina, amina.id, msg.message_id, "العربية")
    monkeypatch.setattr(people, "translator_languages", broken)
    with caplog.at_level(logging.ERROR):
        replies = texts(await bot.say(amina, f"/help {secret_words}"), amina.id)
    assert replies == ["عذرًا، حدث خطأ ما. يرجى المحاولة مرة أخرى."], replies
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "handler failed: RuntimeError" in logged
    assert "Egebækvej" not in logged and "Fællesspisning" not in logged
    assert "TEST-TOKEN" not in logged


async def test_reply_waits_out_a_429_instead_of_losing_it(bot: BotHarness) -> None:
    amina = bot.user(8, "Amina", "da")
    bot.api.fail_next("sendMessage", chat_id=amina.id, kind="429", retry_after=1)
    calls = await bot.say(amina, "/help")
    sends = [c for c in calls if c.method == "sendMessage" and c.chat_id == amina.id]
    assert [c.status for c in sends] == [429, 200]
    assert "/language" in (sends[-1].plain_text or "")


async def test_nul_characters_are_dropped_not_fatal(bot: BotHarness) -> None:
    """PostgreSQL refuses NUL in text; what people send is cleaned before it is stored or searched."""
    admin = bot.user(1, "Mette\x00", "da", username="mette")
    group = bot.group("Netværk\x00 Vest", admins=[admin])
    await bot.say(admin, "/setup", group)
    for text in (
        "/decisions \x00",
        "/newevent Spil\x00dag | i morgen kl. 18 | Bibliotek\x00et",
        "/additem \x00",
    ):
        calls = await bot.say(admin, text, group)
        replies = texts(calls, group.id)
        assert replies and not any("Sorry" in r or "Undskyld" in r for r in replies), (text, replies)
    async with bot.services.sessionmaker() as s:
        title = await s.scalar(select(m.Event.title))
        assert title == "Spildag"
