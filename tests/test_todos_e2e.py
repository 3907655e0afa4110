"""Action items end to end: /todo for @username, a known name, "me" in Danish, Arabic and Tigrinya
and an unknown name; the owner told privately in their language; the reminder the day before the
due date (not a minute early, and not for an item done already); Done by the owner or a coordinator,
forged presses refused with nothing changed; /todos with overdue marked; the next meeting's final
agenda lists the open ones under a follow-up heading; the minutes reminder counts them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.db import models as m
from bot.testing.fake_bot_api import Call
from bot.testing.harness import BotHarness, texts


def last_text(calls: list[Call], chat_id: int | None = None) -> str:
    found = texts(calls, chat_id)
    assert found, calls
    return found[-1]


async def todos_by_text(bot: BotHarness) -> dict[str, m.ActionItem]:
    async with bot.services.sessionmaker() as s:
        return {t.text: t for t in (await s.scalars(select(m.ActionItem))).all()}


def arabic(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


def geez(text: str) -> bool:
    return any("\u1200" <= ch <= "\u137f" for ch in text)


async def test_action_items_told_reminded_done(clocked_bot: BotHarness) -> None:
    bot = clocked_bot  # Monday 23 November 2026, 10:00 in Copenhagen
    mette = bot.user(1, "Mette", "da", username="mette")  # coordinator
    yonas = bot.user(2, "Yonas", "ti", username="yonas")
    amal = bot.user(3, "Amal", "ar", username="amal")
    jamila = bot.user(4, "Jamila", "da")  # no username: found by her name
    lotte = bot.user(9, "Lotte", "da", username="lotte")  # another network's coordinator
    group = bot.group("Integrationsnetværket Rudersdal", admins=[mette])
    other = bot.group("Venligboerne", admins=[lotte])
    await bot.say(mette, "/setup", group)
    await bot.say(lotte, "/setup", other)
    for person in (yonas, amal, jamila):
        await bot.say(person, "/help", group)

    # For @amal, due in ten days: she is told privately, in Arabic, with a Done button.
    with bot.wakes_held():
        reply = last_text(
            await bot.say(yonas, "/todo @amal | Ring til kommunen om salen | 3. december", group), group.id
        )
    assert "Ring til kommunen om salen" in reply and geez(reply)
    await bot.run_due()
    told = [c for c in bot.api.calls("sendMessage", chat_id=amal.id) if c.ok]
    assert (
        len(told) == 1
        and arabic(told[0].plain_text or "")
        and "Ring til kommunen om salen" in (told[0].plain_text or "")
    )
    assert [b["text"] for b in told[0].buttons()] == ["تم"]

    # "mig", "ኣነ", "أنا": the writer; a name the bot knows; an unknown name is kept as written.
    await bot.say(mette, "/todo mig | Sende referatet til kommunen", group)
    await bot.say(yonas, "/todo ኣነ | Oversætte invitationen", group)
    await bot.say(amal, "/todo أنا | Bestille lokalet | 30. november", group)
    await bot.say(mette, "/todo Jamila | Sende notits når bekendtgørelsen kommer ud", group)
    unknown = last_text(
        await bot.say(mette, "/todo Gitte KW | Melde tilbage til journalisten", group), group.id
    )
    assert "Gitte KW" in unknown and "kender ikke" in unknown
    # Bad input: nothing is created.
    assert last_text(await bot.say(mette, "/todo mig", group), group.id).startswith("⚠️")
    assert last_text(await bot.say(mette, "/todo mig | Noget | den 45. blah", group), group.id).startswith(
        "⚠️"
    )
    # Guided: a wrong date is explained and asked again; "-" leaves it without a due date.
    await bot.say(mette, "/todo", group)
    await bot.say(mette, "mig", group)
    await bot.say(mette, "Bestille kaffe", group)
    asked = texts(await bot.say(mette, "den 45. blah", group), group.id)
    assert asked[0].startswith("⚠️") and "Hvornår" in asked[-1]
    await bot.say(mette, "-", group)
    items = await todos_by_text(bot)
    assert items["Bestille kaffe"].due_at is None and items["Bestille kaffe"].owner_name == ""
    assert len(items) == 7
    async with bot.services.sessionmaker() as s:
        ids = {p.tg_id: p.id for p in (await s.scalars(select(m.Person))).all()}
    assert items["Sende referatet til kommunen"].owner_id == ids[mette.id]
    assert items["Oversætte invitationen"].owner_id == ids[yonas.id]
    assert items["Bestille lokalet"].owner_id == ids[amal.id]
    assert items["Sende notits når bekendtgørelsen kommer ud"].owner_id == ids[jamila.id]
    gitte = items["Melde tilbage til journalisten"]
    assert gitte.owner_id is None and gitte.owner_name == "Gitte KW"
    await bot.run_due()
    yonas_told = last_text(bot.api.calls("sendMessage", chat_id=yonas.id))
    assert geez(yonas_told) and "Oversætte invitationen" in yonas_told

    # /todos in the group: every open item with its owner and due date, a Done button each.
    listed = next(c for c in await bot.say(jamila, "/todos", group) if c.buttons())
    text = listed.plain_text or ""
    assert "Åbne handlingspunkter" in text
    assert "Ring til kommunen om salen — Amal · senest 3. december 2026" in text
    assert "Melde tilbage til journalisten — Gitte KW" in text
    assert len(listed.buttons()) == 7

    # Forged and unauthorised presses: refused, nothing changed.
    amal_item = items["Ring til kommunen om salen"]
    forged = await bot.press(
        lotte, other.id, max(bot.api.messages[other.id]), f"todo_done:{amal_item.id}:", data=True
    )
    assert any(c.method == "answerCallbackQuery" and c.params.get("show_alert") for c in forged)
    press = await bot.press(yonas, group.id, listed.message_id or 0, f"todo_done:{amal_item.id}:", data=True)
    assert any(c.method == "answerCallbackQuery" and c.params.get("show_alert") for c in press)
    assert (await todos_by_text(bot))["Ring til kommunen om salen"].status == "open"

    # The coordinator marks Jamila's done from the list; Amal's own "Bestille lokalet" (due 30 Nov,
    # reminder 29 Nov) by its owner from the private message: its reminder is not sent.
    jamila_item = items["Sende notits når bekendtgørelsen kommer ud"]
    await bot.press(mette, group.id, listed.message_id or 0, f"todo_done:{jamila_item.id}:", data=True)
    booking = next(
        c for c in bot.api.calls("sendMessage", chat_id=amal.id) if "Bestille lokalet" in (c.plain_text or "")
    )
    done = await bot.press(amal, amal.id, booking.message_id or 0, "تم")
    assert any(c.method == "editMessageText" and "Bestille lokalet" in (c.plain_text or "") for c in done)
    booking_item = items["Bestille lokalet"]
    again = await bot.press(
        amal, amal.id, booking.message_id or 0, f"todo_done:{booking_item.id}:", data=True
    )
    assert any(c.method == "answerCallbackQuery" and not c.params.get("show_alert") for c in again)
    items = await todos_by_text(bot)
    assert items["Sende notits når bekendtgørelsen kommer ud"].status == "done"
    assert items["Bestille lokalet"].status == "done"

    # The reminder the day before the due date, at 10:00: not a minute early; then once.
    sent_before = len(bot.api.calls("sendMessage", chat_id=amal.id))
    await bot.advance(days=8, hours=23, minutes=59)  # 2 December 09:59 Copenhagen
    assert len(bot.api.calls("sendMessage", chat_id=amal.id)) == sent_before
    await bot.advance(minutes=1)
    reminder = bot.api.calls("sendMessage", chat_id=amal.id)[sent_before:]
    assert len(reminder) == 1 and arabic(reminder[0].plain_text or "")
    assert "Ring til kommunen om salen" in (reminder[0].plain_text or "") and "تذكير" in (
        reminder[0].plain_text or ""
    )
    await bot.advance(days=1)
    assert len(bot.api.calls("sendMessage", chat_id=amal.id)) == sent_before + 1  # no second reminder

    # After the due date: overdue in /todos.
    await bot.advance(days=1)  # 4 December
    overdue = last_text(await bot.say(mette, "/todos", group), group.id)
    line = next(x for x in overdue.splitlines() if "Ring til kommunen om salen" in x)
    assert "overskredet" in line
    assert "Sende notits" not in overdue and "Bestille lokalet" not in overdue

    # The next meeting's final agenda lists the open ones under a follow-up heading.
    await bot.say(mette, "/newmeeting 17. december kl. 17 | Rådhuset", group)
    await bot.run_due()
    start = len(bot.api.all_calls)
    await bot.advance(days=6, hours=8)  # 10 December, after 17:00: the final agenda
    final = next(
        c.plain_text or ""
        for c in bot.api.all_calls[start:]
        if c.chat_id == group.id and "Endelig dagsorden" in (c.plain_text or "")
    )
    follow = final.split("Opfølgning: åbne handlingspunkter", 1)[1]
    assert "Ring til kommunen om salen — Amal" in follow and "overskredet" in follow
    assert "Melde tilbage til journalisten — Gitte KW" in follow
    assert "Sende notits" not in follow

    # The minutes reminder to coordinators mentions how many are open (5).
    bot.clock.advance(timedelta(days=14))
    await bot.run_due()
    reminder_to_mette = last_text(bot.api.calls("sendMessage", chat_id=mette.id))
    assert "referat" in reminder_to_mette and "5 handlingspunkter er stadig åbne" in reminder_to_mette
