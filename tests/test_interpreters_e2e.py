"""End-to-end: `🗣 Interpreter` on event cards and meeting notices, /interpreters, the counts to
coordinators 3 days before, and confirmations told to those who asked (da, ar, ti)."""

from __future__ import annotations

from sqlalchemy import select

from bot.db import models as m
from bot.testing.fake_bot_api import private_chat
from bot.testing.harness import BotHarness, texts

FSI, PDI = "\u2068", "\u2069"


async def requests(bot: BotHarness) -> list[tuple[str, int, str, str]]:
    async with bot.services.sessionmaker() as s:
        rows = (
            await s.execute(
                select(
                    m.InterpreterRequest.subject,
                    m.InterpreterRequest.subject_id,
                    m.Person.first_name,
                    m.InterpreterRequest.language,
                )
                .join(m.Person)
                .order_by(m.Person.first_name)
            )
        ).all()
    return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_event_interpreters_counts_digest_and_confirmation(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    mette = bot.user(1, "Mette", "da")
    susanne = bot.user(2, "Susanne", "da")
    massoud = bot.user(3, "Massoud", "ar")
    yonas = bot.user(4, "Yonas", "ti")
    group = bot.group("Integrationsnetværket", admins=[mette])
    await bot.say(mette, "/setup", group)
    for u in (mette, susanne, massoud, yonas):
        await bot.say(u, "/start")
        await bot.say(u, "hej", group)
    calls = await bot.say(mette, "/newevent Workshop om sport | 3. december kl. 17 | Egebæk", group)
    card = next(c for c in calls if c.method == "sendMessage" and c.chat_id == group.id).message_id
    # the interpreter button has a row of its own, after the fixed rows
    markup = bot.api.messages[group.id][card]["reply_markup"]["inline_keyboard"]
    assert [[b["text"] for b in row] for row in markup][2:] == [["🗣 Tolk"]]

    # Arabic and Tigrinya readers: recorded in their language at once
    replies = texts(await bot.press(massoud, group, card, "interp:1:e", data=True))
    assert replies == [
        f"تم التسجيل: تحتاج إلى مترجم فوري إلى {FSI}العربية{PDI}. اضغط 🗣 مترجم فوري مرة أخرى للتراجع."
    ]
    replies = texts(await bot.press(yonas, group, card, "interp:1:e", data=True))
    assert replies == ["ተመዝጊቡ: ናብ ትግርኛ ተርጓሚ ቃል የድልየካ። ንምስሓብ 🗣 ተርጓሚ ቃል ደጊምካ ጠውቕ።"]
    # a Danish reader is asked which language, with buttons
    calls = await bot.press(susanne, group, card, "interp:1:e", data=True)
    question = next(c for c in calls if c.method == "sendMessage")
    assert question.plain_text == "Hvilket sprog har du brug for tolkning til?"
    assert [b["text"] for b in question.buttons()] == ["Arabisk", "Tigrinya", "Engelsk"]
    replies = texts(await bot.press(susanne, group, question.message_id, "Arabisk"))
    assert replies == [
        "Noteret: du har brug for en tolk til Arabisk. Tryk på 🗣 Tolk igen for at trække det tilbage."
    ]
    assert await requests(bot) == [
        ("event", 1, "Massoud", "ar"),
        ("event", 1, "Susanne", "ar"),
        ("event", 1, "Yonas", "ti"),
    ]
    # a second press on 🗣 withdraws
    replies = texts(await bot.press(susanne, group, card, "interp:1:e", data=True))
    assert replies == ["Trukket tilbage: du beder ikke længere om tolk."]
    assert [r[2] for r in await requests(bot)] == ["Massoud", "Yonas"]

    # counts: coordinators only
    assert texts(await bot.say(mette, "/interpreters 1", group)) == [
        "Behov for tolk: Workshop om sport\n• Arabisk: 1 person\n• Tigrinya: 1 person"
    ]
    assert texts(await bot.say(massoud, "/interpreters 1", group)) == [
        "⚠️ يمكن فقط لمنسقي الشبكة القيام بذلك."
    ]
    assert texts(await bot.say(yonas, "/interpreters 1 confirm ti", private_chat(yonas))) == [
        "⚠️ ነዚ ክገብሩ ዝኽእሉ ኣወሃሃድቲ እቲ መርበብ ጥራይ እዮም።"
    ]

    # 3 days before, the coordinator gets the counts in their language
    await bot.advance(days=7, hours=8)
    digest = [c.plain_text or "" for c in bot.api.sent_messages(mette.id)][-1]
    assert digest == (
        "Behov for tolk: Workshop om sport\n• Arabisk: 1 person\n• Tigrinya: 1 person\n\n"
        "For at bekræfte en: /interpreters 1 confirm ar"
    )

    # confirming Arabic: the card shows it, and Massoud is told in Arabic (Yonas is not)
    replies = texts(await bot.say(mette, "/interpreters 1 confirm ar", group))
    assert replies[0] == "Bekræftet: en tolk til Arabisk. Jeg giver besked til den 1 person, der spurgte."
    await bot.run_due()
    told = [c.plain_text or "" for c in bot.api.sent_messages(massoud.id)][-1]
    assert told.startswith(f"🗣 تم تأكيد مترجم فوري إلى {FSI}العربية{PDI} في {FSI}Workshop om sport{PDI}")
    assert not any("🗣" in (c.plain_text or "") for c in bot.api.sent_messages(yonas.id))
    shown = texts(await bot.say(yonas, "/event 1"))[0]
    assert "🗣 ትርጉም ቃል ናብ: ዓረብኛ" in shown


async def test_meeting_notice_carries_the_interpreter_button(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    mette = bot.user(1, "Mette", "da")
    yonas = bot.user(4, "Yonas", "ti")
    group = bot.group("Integrationsrådet", admins=[mette])
    await bot.say(mette, "/setup", group)
    await bot.say(yonas, "/start")
    await bot.say(yonas, "hej", group)
    await bot.say(mette, "/newmeeting 2027-01-20 16:30 | Rådhuset", group)
    await bot.run_due()
    notice = next(c for c in reversed(bot.api.sent_messages(group.id)) if c.buttons())
    rows = notice.reply_markup["inline_keyboard"]  # type: ignore[index]
    assert [[b["text"] for b in row] for row in rows] == [
        ["Deltager", "Afbud", "Sender suppleant"],
        ["🗣 Tolk"],
    ]
    data = rows[1][0]["callback_data"]
    assert data.startswith("interp:") and data.endswith(":m")
    replies = texts(await bot.press(yonas, group, notice.message_id or 0, data, data=True))
    assert replies == ["ተመዝጊቡ: ናብ ትግርኛ ተርጓሚ ቃል የድልየካ። ንምስሓብ 🗣 ተርጓሚ ቃል ደጊምካ ጠውቕ።"]
    meeting_id = data.split(":")[1]
    shown = texts(await bot.say(mette, f"/interpreters m{meeting_id}", group))[0]
    assert shown.endswith("• Tigrinya: 1 person")
