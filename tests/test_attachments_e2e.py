"""Files on agenda items, end to end through the local Bot API: attached as a reply, during the
/additem dialogue and with /attach; shown with 📎 in /agenda; sent after the final agenda, by file id,
to the group once and to each follower once (documents as one media group, a photo on its own); a
late item's file only once it is accepted; a file added after the final agenda follows the day-before
reminder, the others are not sent again; /mydata lists a person's files and /forgetme keeps the
agenda whole without their name."""

from __future__ import annotations

import json
from collections import Counter

from sqlalchemy import select

from bot.db import models as m
from bot.testing.fake_bot_api import Call, UploadedFile
from bot.testing.harness import BotHarness, texts

SLUG = "integrationsnetvaerket-rudersdal"


def last_text(calls: list[Call], chat_id: int | None = None) -> str:
    found = texts(calls, chat_id)
    assert found, calls
    return found[-1]


def file_deliveries(bot: BotHarness, chat_id: int) -> Counter[str]:
    """How often each file id reached `chat_id` (media groups, single documents and photos)."""
    out: Counter[str] = Counter()
    for c in bot.api.calls(chat_id=chat_id):
        if not c.ok:
            continue
        if c.method == "sendMediaGroup":
            out.update(str(item["media"]) for item in c.params["media"])
        elif c.method == "sendDocument" and isinstance(c.params.get("document"), str):
            out[str(c.params["document"])] += 1
        elif c.method == "sendPhoto":
            out[str(c.params["photo"])] += 1
    return out


def late_notice(bot: BotHarness, chat_id: int, title: str) -> int:
    """The message id of the late-item notice (Accept · Decline) about `title`."""
    return next(
        c.message_id or 0
        for c in bot.api.calls("sendMessage", chat_id=chat_id)
        if c.buttons() and title in (c.plain_text or "")
    )


async def post_file(bot: BotHarness, user: object, chat: object, name: str) -> tuple[int, str]:
    """A member posts a document in `chat`; returns (message id, file id)."""
    await bot.say(user, None, chat, document=(name, b"%PDF-1.4 " + name.encode()))  # type: ignore[arg-type]
    chat_id = chat.id  # type: ignore[attr-defined]
    mid = max(bot.api.messages[chat_id])
    return mid, bot.api.messages[chat_id][mid]["document"]["file_id"]


async def test_files_follow_the_final_agenda_once(clocked_bot: BotHarness) -> None:
    bot = clocked_bot  # Monday 23 November 2026, 10:00 in Copenhagen
    mette = bot.user(1, "Mette", "da", username="mette")  # coordinator
    yonas = bot.user(2, "Yonas", "ti", username="yonas")
    amal = bot.user(3, "Amal", "ar", username="amal")
    followers = [
        bot.user(10 + i, f"F{i}", lang, username=f"f{i}") for i, lang in enumerate(("da", "ar", "ti"))
    ]
    group = bot.group("Integrationsnetværket Rudersdal", admins=[mette])
    await bot.say(mette, "/setup", group)
    for person in (yonas, amal):
        await bot.say(person, "/help", group)
    for f in followers:
        await bot.say(f, f"/start net_{SLUG}")
    await bot.say(mette, "/newmeeting 10. december kl. 17 | Rådhuset", group)
    await bot.run_due()

    # 1. /additem as a reply to a document.
    slides_msg, slides = await post_file(bot, yonas, group, "slides-idraet.pdf")
    told = last_text(
        await bot.say(
            yonas, "/additem Temaaften om idræt | Invitation fra DGI", group, reply_to_message_id=slides_msg
        ),
        group.id,
    )
    assert "slides-idraet.pdf" in told and "/attach 1" in told  # how to add more, with the item's number
    # 2. A file sent during the guided /additem, privately.
    await bot.say(yonas, "/additem")
    await bot.say(yonas, None, document=("program.pdf", b"%PDF program"))  # type: ignore[arg-type]
    program_id = next(
        v["document"]["file_id"]
        for v in bot.api.messages[yonas.id].values()
        if "document" in v and v["from"]["id"] == yonas.id
    )
    await bot.say(yonas, "Madklub i Birkerød")
    done = last_text(await bot.say(yonas, "-"), yonas.id)
    assert "program.pdf" in done
    async with bot.services.sessionmaker() as s:
        items = {i.title: i for i in (await s.scalars(select(m.AgendaItem))).all()}
    sport, food = items["Temaaften om idræt"], items["Madklub i Birkerød"]

    # 3. /attach: the coordinator adds a budget to Yonas's item; Amal (neither) is refused.
    budget_msg, budget = await post_file(bot, mette, group, "budget.xlsx")
    await bot.say(mette, f"/attach {sport.id}", group, reply_to_message_id=budget_msg)
    refused = last_text(
        await bot.say(amal, f"/attach {sport.id}", group, reply_to_message_id=budget_msg), group.id
    )
    assert refused.startswith("⚠️")
    # A photo, attached by its submitter.
    bot.api.files["PHOTO1"] = UploadedFile("plakat.jpg", b"\xff\xd8jpeg")
    await bot.say(
        yonas,
        None,
        group,
        photo=[{"file_id": "PHOTO1", "file_unique_id": "UPHOTO1", "width": 90, "height": 90}],
    )  # type: ignore[arg-type]
    photo_msg = max(bot.api.messages[group.id])
    await bot.say(yonas, f"/attach {food.id}", group, reply_to_message_id=photo_msg)
    # The same file twice: refused, nothing added.
    twice = last_text(
        await bot.say(yonas, f"/attach {sport.id}", group, reply_to_message_id=slides_msg), group.id
    )
    assert twice.startswith("⚠️")
    async with bot.services.sessionmaker() as s:
        assert len((await s.scalars(select(m.AgendaAttachment))).all()) == 4

    # /agenda marks items with 📎 and the names.
    agenda = last_text(await bot.say(mette, "/agenda", group), group.id)
    sport_line = next(i for i, line in enumerate(agenda.splitlines()) if "Temaaften om idræt" in line)
    assert "📎 slides-idraet.pdf, budget.xlsx" in "\n".join(agenda.splitlines()[sport_line : sport_line + 3])
    assert "📎 program.pdf, photo-UPHOTO1.jpg" in agenda
    # In Arabic the file line starts right-to-left and the Latin names keep their own order.
    ar = last_text(await bot.say(amal, "/agenda", group), group.id)
    assert "\u200f📎 \u2068slides-idraet.pdf, budget.xlsx\u2069" in ar

    # 4. After the deadline: Amal's late item with a file (accepted), Hassan's (declined).
    await bot.advance(days=8)  # 1 December
    late_msg, late_file = await post_file(bot, amal, group, "oversigt.pdf")
    await bot.say(amal, "/additem Oversigt over tilbud", group, reply_to_message_id=late_msg)
    no_msg, no_file = await post_file(bot, amal, group, "afvist.pdf")
    await bot.say(amal, "/additem Noget andet", group, reply_to_message_id=no_msg)
    await bot.run_due()
    await bot.press(mette, mette.id, late_notice(bot, mette.id, "Oversigt over tilbud"), 1)  # accept
    await bot.press(mette, mette.id, late_notice(bot, mette.id, "Noget andet"), 2)  # decline

    # 5. The final agenda (3 December), then the files: each once, to the group and every follower.
    before = len(bot.api.all_calls)
    await bot.advance(days=2, hours=8)  # 3 December 17:00
    expected = {slides, budget, late_file, program_id, "PHOTO1"}
    for chat_id in [group.id] + [f.id for f in followers]:
        got = file_deliveries(bot, chat_id)
        assert got == Counter(dict.fromkeys(expected, 1)), (chat_id, got)
        sent = [c for c in bot.api.all_calls[before:] if c.chat_id == chat_id and c.ok]
        kinds = [c.method for c in sent]
        # The agenda first, then one media group of the four documents, then the photo alone.
        assert kinds == ["sendMessage", "sendMediaGroup", "sendPhoto"], kinds
        assert len(sent[1].params["media"]) == 4
    assert no_file not in file_deliveries(bot, group.id)
    # Captions say which item a file is for, in the reader's language.
    ar_group = next(c for c in bot.api.calls("sendMediaGroup", chat_id=followers[1].id))
    assert any("\u0600" <= ch <= "\u06ff" for ch in ar_group.params["media"][0]["caption"])
    # Members who do not follow read the files in the group: no private copy.
    assert file_deliveries(bot, yonas.id) == Counter()

    # 6. A late item accepted after the final agenda: its file goes at once where the agenda went.
    later_msg, later_file = await post_file(bot, amal, group, "tilmelding.pdf")
    await bot.say(amal, "/additem Tilmelding til sommerlejr", group, reply_to_message_id=later_msg)
    await bot.run_due()
    await bot.press(mette, mette.id, late_notice(bot, mette.id, "Tilmelding til sommerlejr"), 1)
    await bot.run_due()
    expected.add(later_file)
    for chat_id in [group.id] + [f.id for f in followers]:
        assert file_deliveries(bot, chat_id) == Counter(dict.fromkeys(expected, 1)), chat_id
        assert [c.method for c in bot.api.calls(chat_id=chat_id) if c.ok][-1] == "sendDocument"  # alone

    # 7. A file added after that goes with the day-before reminder; nothing is resent.
    extra_msg, extra = await post_file(bot, mette, group, "kort.pdf")
    await bot.say(mette, f"/attach {sport.id}", group, reply_to_message_id=extra_msg)
    await bot.advance(days=6)  # 9 December, the day before
    for chat_id in [group.id] + [f.id for f in followers]:
        assert file_deliveries(bot, chat_id) == Counter(dict.fromkeys(expected | {extra}, 1)), chat_id
    assert bot.api.duplicates() == {}

    # 8. /mydata lists Yonas's files; /forgetme keeps the agenda whole but without his name.
    data_call = next(c for c in await bot.say(yonas, "/mydata") if c.method == "sendDocument")
    exported = json.loads(data_call.params["document"].content)
    names = {f["file_name"] for f in exported["agenda_files_attached"]}
    assert {"slides-idraet.pdf", "program.pdf"} <= names and "budget.xlsx" not in names
    confirm = next(c for c in await bot.say(yonas, "/forgetme") if c.buttons())
    await bot.press(yonas, yonas.id, confirm.message_id or 0, 1)
    after = last_text(await bot.say(mette, "/agenda", group), group.id)
    assert "Temaaften om idræt" in after and "Yonas" not in after
    assert "📎 slides-idraet.pdf, budget.xlsx, kort.pdf" in after
    async with bot.services.sessionmaker() as s:
        rows = (await s.scalars(select(m.AgendaAttachment))).all()
        assert len(rows) == 8 and all(
            r.uploader_id is None for r in rows if r.file_name == "slides-idraet.pdf"
        )
