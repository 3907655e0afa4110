"""End-to-end through the local Bot API: a coordinator plans a meeting, two members send items (one
late), and the agenda reads right in Danish, Arabic and Tigrinya."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.db import models as m
from bot.testing.fake_bot_api import Call
from bot.testing.harness import BotHarness, texts


def last_text(calls: list[Call], chat_id: int | None = None) -> str:
    """The last text the bot sent in one chat (a notice delivered meanwhile to someone else is not it)."""
    found = texts(calls, chat_id)
    assert found, calls
    return found[-1]


def numbered(text: str) -> list[str]:
    return [line for line in text.splitlines() if line[:1].isdigit() and line[1:3] in (". ", "0.")]


async def count(bot: BotHarness, model: type) -> int:
    async with bot.services.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_agenda_in_three_languages(clocked_bot: BotHarness) -> None:
    bot = clocked_bot  # Monday 23 November 2026, 10:00 in Copenhagen
    mette = bot.user(1, "Mette", "da", username="mette")
    yonas = bot.user(2, "Yonas", "ti", username="yonas")
    amal = bot.user(3, "Amal", "ar", username="amal")
    hassan = bot.user(4, "Hassan", "da", username="hassan")
    group = bot.group("Integrationsnetværket Rudersdal", admins=[mette])
    other = bot.group("Venligboerne Rudersdal", admins=[hassan])
    await bot.say(mette, "/setup", group)
    await bot.say(hassan, "/setup", other)
    await bot.say(yonas, "/help", group)
    await bot.say(amal, "/help", group)
    await bot.say(amal, "/help", other)

    # Before any meeting: a clear message, nothing stored.
    assert "⚠️" in last_text(await bot.say(yonas, "/additem Madklub", group), group.id)
    assert await count(bot, m.AgendaItem) == 0

    # The coordinator plans the meeting as a guided dialogue; a wrong date is explained and asked again.
    assert "⚠️" in last_text(await bot.say(yonas, "/newmeeting", group), group.id)
    await bot.say(mette, "/newmeeting", group)
    wrong = texts(await bot.say(mette, "den 45. blah", group))
    assert wrong[0].startswith("⚠️") and "Hvornår er mødet?" in wrong[-1]
    await bot.say(mette, "10. december kl. 17", group)
    planned = last_text(await bot.say(mette, "Rådhuset, mødelokale 2", group), group.id)
    assert "Møde 1 er planlagt" in planned and "torsdag den 10. december 2026 17.00" in planned
    assert "mandag den 30. november 2026 17.00" in planned  # deadline, 10 days before
    await bot.run_due()

    # A standing item of the network's own, and members may not change them.
    assert "⚠️" in last_text(await bot.say(yonas, "/standing add start Nyt fra kommunen", group), group.id)
    await bot.say(mette, "/standing add start Sidste nyt fra Koordineringsgruppen", group)
    assert "⚠️" in last_text(await bot.say(mette, "/standing add middle Noget", group), group.id)

    # Yonas sends his item on time, in the group, in one line.
    ok = last_text(await bot.say(yonas, "/additem Temaaften om idræt | Invitation fra DGI", group), group.id)
    assert "Temaaften om idræt" in ok and any("\u1200" <= ch <= "\u137f" for ch in ok)
    # Bad input: only a description.
    assert "⚠️" in last_text(await bot.say(yonas, "/additem | bare en beskrivelse", group), group.id)
    assert await count(bot, m.AgendaItem) == 1

    # After the deadline Amal writes privately, guided; she is in two networks, so she chooses.
    await bot.advance(days=8)
    await bot.say(amal, "/additem")
    await bot.say(amal, "Madklub i Birkerød")
    pick = await bot.say(amal, "-")
    choice = next(c for c in pick if c.buttons())
    assert [b["text"] for b in choice.buttons()] == [
        "Integrationsnetværket Rudersdal",
        "Venligboerne Rudersdal",
    ]
    told = last_text(
        await bot.press(amal, amal.id, choice.message_id or 0, "Integrationsnetværket Rudersdal")
    )
    assert "Madklub i Birkerød" in told and any("\u0600" <= ch <= "\u06ff" for ch in told)
    await bot.run_due()
    late = next(
        c for c in bot.api.all_calls if c.method == "sendMessage" and c.chat_id == mette.id and c.buttons()
    )
    assert [b["text"] for b in late.buttons()] == ["Godkend", "Afvis"]
    await bot.press(mette, mette.id, late.message_id or 0, "Godkend")
    # pressing again changes nothing
    again = await bot.press(
        mette, mette.id, late.message_id or 0, late.buttons()[1]["callback_data"], data=True
    )
    assert any(c.method == "answerCallbackQuery" and c.params.get("show_alert") for c in again)

    # The agenda, in each reader's language.
    da = last_text(await bot.say(hassan, "/agenda 1", group), group.id)
    assert numbered(da) == [
        "1. Velkomst og præsentationsrunde",
        "2. Sidste nyt fra Koordineringsgruppen",
        "3. Temaaften om idræt — fremlægges af Yonas",
        "4. Madklub i Birkerød — fremlægges af Amal (for sent)",
        "5. Eventuelt",
    ]
    assert da.startswith("Dagsorden for Integrationsnetværket Rudersdal")

    ar = last_text(await bot.say(amal, "/agenda", group), group.id)
    assert "جدول أعمال" in ar and "الترحيب والتعارف" in ar and "ما يستجد من أعمال" in ar
    assert "يقدّمه" in ar and "(متأخر)" in ar
    lines_ar = ar.splitlines()
    assert any("Madklub i Birkerød" in line and "(متأخر)" in line and "Amal" in line for line in lines_ar)

    ti = last_text(await bot.say(yonas, "/agenda"), yonas.id)  # privately: his network's next meeting
    assert "ኣጀንዳ" in ti and "ኣቀባብላን ምልላይን" in ti and "ካልኦት ጉዳያት" in ti and "(ዝደንጐየ)" in ti
    assert "ብ" in ti and "Temaaften om idræt" in ti

    # Another network's members cannot see this meeting by number.
    stranger = bot.user(9, "Lotte", "da")
    await bot.say(stranger, "/help", other)
    assert "⚠️" in last_text(await bot.say(stranger, "/agenda 1", other), other.id)

    # The coordinator moves Amal's item up and withdraws Yonas'.
    calls = await bot.say(mette, "/agenda", group)
    view = next(c for c in calls if c.buttons())
    labels = [b["text"] for b in view.buttons()]
    assert labels[0].startswith("↑ Temaaften") and labels[3].startswith("↑ Madklub")
    assert "⚠️" not in "".join(texts(await bot.press(mette, group.id, view.message_id or 0, 4)))
    refused = await bot.press(yonas, group.id, view.message_id or 0, 4)
    assert any(c.method == "answerCallbackQuery" and c.params.get("show_alert") for c in refused)
    moved = numbered(last_text(await bot.say(hassan, "/agenda", group), group.id))
    assert moved[2].startswith("3. Madklub i Birkerød") and moved[3].startswith("4. Temaaften")
    view = next(c for c in await bot.say(mette, "/agenda", group) if c.buttons())
    await bot.press(mette, group.id, view.message_id or 0, 6)  # ✕ on the second item (Temaaften)
    final = numbered(last_text(await bot.say(hassan, "/agenda", group), group.id))
    assert [line.split(" —")[0] for line in final] == [
        "1. Velkomst og præsentationsrunde",
        "2. Sidste nyt fra Koordineringsgruppen",
        "3. Madklub i Birkerød",
        "4. Eventuelt",
    ]

    # /meetings privately lists the date in the reader's language.
    mine = last_text(await bot.say(amal, "/meetings"), amal.id)
    assert "Integrationsnetværket Rudersdal" in mine and "10" in mine and "ديسمبر" in mine
