"""One meeting's whole life on a controlled clock, across the switch to summer time (2027-03-28).

Integrationsnetværket Rudersdal meets on Tuesday 6 April 2027 at 17:00 (summer time, UTC+2); the meeting
is planned on 10 March (winter time, UTC+1). Every notice is checked for recipient, language and local time.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.db import models as m
from bot.testing.fake_bot_api import Call
from bot.testing.harness import BotHarness

CPH = ZoneInfo("Europe/Copenhagen")


@pytest.fixture
def start_time() -> datetime:
    return datetime(2027, 3, 10, 9, 0, tzinfo=UTC)  # Wednesday 10:00 winter time


def arabic(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


def geez(text: str) -> bool:
    return any("\u1200" <= ch <= "\u137f" for ch in text)


async def notices(bot: BotHarness, **where: Any) -> list[m.Notice]:
    async with bot.services.sessionmaker() as s:
        q = select(m.Notice).order_by(m.Notice.due_at, m.Notice.id)
        for key, value in where.items():
            q = q.where(getattr(m.Notice, key) == value)
        return list((await s.scalars(q)).all())


def sent_call(bot: BotHarness, notice: m.Notice) -> Call:
    for c in bot.api.all_calls:
        if c.method == "sendMessage" and c.chat_id == notice.chat_id and c.message_id == notice.message_id:
            return c
    raise AssertionError(f"no message for notice {notice.dedup_key}")


async def stage(bot: BotHarness, meeting_id: int, name: str) -> dict[int, m.Notice]:
    rows = [
        n
        for n in await notices(bot, kind="mtg_stage", ref_id=meeting_id)
        if n.payload.get("stage") == name and n.state != "cancelled"
    ]
    return {n.chat_id: n for n in rows}


def local(dt: datetime) -> datetime:
    return dt.astimezone(CPH)


async def test_meeting_life_across_dst(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    mette = bot.user(1, "Mette", "da", username="mette")  # coordinator (group admin)
    yonas = bot.user(2, "Yonas", "ti", username="yonas")
    amal = bot.user(3, "Amal", "ar", username="amal")
    hassan = bot.user(4, "Hassan", "da", username="hassan")
    sara = bot.user(5, "Sara", "ar", username="sara")  # follows privately, not in the group
    group = bot.group("Integrationsnetværket Rudersdal", admins=[mette])
    await bot.say(mette, "/setup", group)
    for member in (yonas, amal, hassan):
        await bot.say(member, "/help", group)
    await bot.say(sara, "/start net_integrationsnetvaerket-rudersdal")

    # --- creation: bad input changes nothing ---
    bad = await bot.say(mette, "/newmeeting 2027-03-01 17:00 | Rådhuset", group)
    assert "⚠️" in bad[-1].plain_text
    refused = await bot.say(yonas, "/newmeeting 2027-04-06 17:00 | Rådhuset", group)
    assert "⚠️" in refused[-1].plain_text
    assert await notices(bot) == []

    # Both created before the dispatcher looks (the call lists the next dates).
    with bot.wakes_held():
        created = await bot.say(mette, "/newmeeting 2027-04-06 17:00 | Rådhuset, mødelokale 2", group)
        reply = created[-1].plain_text or ""
        assert "Møde 1 er planlagt" in reply and "tirsdag den 6. april 2027 17.00" in reply
        assert "lørdag den 27. marts 2027 17.00" in reply  # the deadline, 10 days before, in winter time
        # A later meeting, so notices list the next dates.
        await bot.say(mette, "/newmeeting 2027-06-08 17:00 | Frivilligcenter Rudersdal", group)
    await bot.run_due()

    async with bot.services.sessionmaker() as s:
        meeting = await s.get(m.Meeting, 1)
        assert meeting is not None
        assert meeting.starts_at == datetime(2027, 4, 6, 15, 0, tzinfo=UTC)  # 17:00 summer time

    # Planned times, on the Copenhagen wall clock across the DST switch.
    planned = {
        n.payload["stage"]: n for n in await notices(bot, kind="mtg_stage", ref_id=1, chat_id=group.id)
    }
    assert set(planned) == {"call", "callrem", "closed", "final", "daybefore"}
    expect_local = {
        "callrem": datetime(2027, 3, 24, 17, 0, tzinfo=CPH),
        "closed": datetime(2027, 3, 27, 17, 0, tzinfo=CPH),
        "final": datetime(2027, 3, 30, 17, 0, tzinfo=CPH),
        "daybefore": datetime(2027, 4, 5, 17, 0, tzinfo=CPH),
    }
    for name, wall in expect_local.items():
        assert local(planned[name].due_at) == wall, name
    assert planned["closed"].due_at == datetime(2027, 3, 27, 16, 0, tzinfo=UTC)  # UTC+1
    assert planned["final"].due_at == datetime(2027, 3, 30, 15, 0, tzinfo=UTC)  # UTC+2
    mindue = await notices(bot, kind="mtg_mindue", ref_id=1)
    assert [(n.chat_id, local(n.due_at)) for n in mindue] == [
        (mette.id, datetime(2027, 4, 13, 17, 0, tzinfo=CPH))
    ]

    # --- the call: the group in Danish, the follower privately in Arabic, with the next dates ---
    call = await stage(bot, 1, "call")
    assert set(call) == {group.id, sara.id}
    group_call = sent_call(bot, call[group.id])
    text = group_call.plain_text or ""
    assert "Møde i Integrationsnetværket Rudersdal" in text
    assert "/additem" in text and "lørdag den 27. marts 2027 17.00" in text
    assert "Næste møder: tirsdag den 6. april 2027 17.00; tirsdag den 8. juni 2027 17.00" in text
    assert [b["text"] for b in group_call.buttons()] == ["Deltager", "Afbud", "Sender suppleant", "🗣 Tolk"]
    sara_call = sent_call(bot, call[sara.id])
    assert arabic(sara_call.plain_text or "") and "27" in (sara_call.plain_text or "")
    assert [b["text"] for b in sara_call.buttons()] == ["سأحضر", "أعتذر عن الحضور", "يحضر بديل عني", "🗣 مترجم فوري"]

    # --- an item on time ---
    on_time = await bot.say(yonas, "/additem Temaaften: idræt for flygtninge | Invitation fra DGI", group)
    assert geez(on_time[-1].plain_text or "")

    # --- reminder of the call: not a minute early, then to group and follower ---
    bot.clock.set(datetime(2027, 3, 24, 15, 59, tzinfo=UTC))
    await bot.run_due()
    assert await stage(bot, 1, "callrem") == {} or all(
        n.state == "pending" for n in (await stage(bot, 1, "callrem")).values()
    )
    await bot.advance(minutes=1)
    rem = await stage(bot, 1, "callrem")
    assert set(rem) == {group.id, sara.id} and all(n.state == "sent" for n in rem.values())
    assert local(rem[group.id].sent_at).hour == 17  # type: ignore[arg-type]
    assert "Påmindelse" in (sent_call(bot, rem[group.id]).plain_text or "")

    # --- the deadline passes (winter time): items close ---
    bot.clock.set(datetime(2027, 3, 27, 16, 0, tzinfo=UTC))
    await bot.run_due()
    closed = await stage(bot, 1, "closed")
    assert closed[group.id].state == "sent"
    closed_text = sent_call(bot, closed[group.id]).plain_text or ""
    assert "Fristen for punkter til dagsordenen er udløbet" in closed_text
    assert "Temaaften: idræt for flygtninge — fremlægges af Yonas" in closed_text

    # --- a late item, privately in Arabic: the coordinator decides, the submitter is told ---
    await bot.advance(hours=20)
    late = await bot.say(amal, "/additem Madklub i Birkerød | Fælles spisning hver måned")
    assert "Madklub i Birkerød" in (late[-1].plain_text or "") and arabic(late[-1].plain_text or "")
    await bot.run_due()
    to_mette = await notices(bot, kind="mtg_late")
    assert [(n.chat_id, n.state) for n in to_mette] == [(mette.id, "sent")]
    late_msg = sent_call(bot, to_mette[0])
    assert "Madklub i Birkerød" in (late_msg.plain_text or "") and "for sent" in (late_msg.plain_text or "")
    assert [b["text"] for b in late_msg.buttons()] == ["Godkend", "Afvis"]
    # a member cannot decide
    denied = await bot.press(
        yonas, mette.id, late_msg.message_id or 0, late_msg.buttons()[0]["callback_data"], data=True
    )
    assert any(c.method == "answerCallbackQuery" and c.params.get("show_alert") for c in denied)
    await bot.press(mette, mette.id, late_msg.message_id or 0, "Godkend")
    await bot.run_due()
    told = await notices(bot, kind="mtg_itemdec")
    assert [(n.chat_id, n.state) for n in told] == [(amal.id, "sent")]
    told_text = sent_call(bot, told[0]).plain_text or ""
    assert "Madklub i Birkerød" in told_text and arabic(told_text)

    # --- final agenda 7 days before, now in summer time ---
    bot.clock.set(datetime(2027, 3, 30, 14, 59, tzinfo=UTC))
    await bot.run_due()
    assert all(n.state == "pending" for n in (await stage(bot, 1, "final")).values())
    await bot.advance(minutes=1)
    final = await stage(bot, 1, "final")
    assert set(final) == {group.id, sara.id}
    assert local(final[group.id].sent_at).hour == 17  # type: ignore[arg-type]
    final_call = sent_call(bot, final[group.id])
    lines = (final_call.plain_text or "").splitlines()
    assert "Endelig dagsorden for Integrationsnetværket Rudersdal" in lines[0]
    numbered = [line for line in lines if line[:2] in ("1.", "2.", "3.", "4.")]
    assert numbered == [
        "1. Velkomst og præsentationsrunde",
        "2. Temaaften: idræt for flygtninge — fremlægges af Yonas",
        "3. Madklub i Birkerød — fremlægges af Amal (for sent)",
        "4. Eventuelt",
    ]
    sara_final = sent_call(bot, final[sara.id]).plain_text or ""
    assert "الترحيب والتعارف" in sara_final and "(متأخر)" in sara_final

    # --- attendance on the notice ---
    mid = final_call.message_id or 0
    await bot.press(yonas, group.id, mid, "Deltager")
    await bot.press(amal, group.id, mid, "Afbud")
    await bot.press(hassan, group.id, mid, "Sender suppleant")
    await bot.press(sara, sara.id, sent_call(bot, final[sara.id]).message_id or 0, "سأحضر")
    summary = (await bot.say(mette, "/attendance 1", group))[-1].plain_text or ""
    assert "2 deltager: Sara, Yonas" in summary
    assert "1 har meldt afbud: Amal" in summary and "1 suppleant: Hassan" in summary
    assert "⚠️" in ((await bot.say(yonas, "/attendance 1", group))[-1].plain_text or "")

    # --- the day before ---
    bot.clock.set(datetime(2027, 4, 5, 15, 0, tzinfo=UTC))
    await bot.run_due()
    daybefore = await stage(bot, 1, "daybefore")
    assert set(daybefore) == {group.id, sara.id}
    assert "I morgen: møde i" in (sent_call(bot, daybefore[group.id]).plain_text or "")
    assert "3. Madklub i Birkerød" in (sent_call(bot, daybefore[group.id]).plain_text or "")

    # --- after the meeting: no minutes by the due day -> the coordinator is reminded ---
    bot.clock.set(datetime(2027, 4, 13, 14, 59, tzinfo=UTC))
    await bot.run_due()
    assert [n.state for n in await notices(bot, kind="mtg_mindue", ref_id=1)] == ["pending"]
    await bot.advance(minutes=1)
    due = await notices(bot, kind="mtg_mindue", ref_id=1)
    assert [(n.chat_id, n.state) for n in due] == [(mette.id, "sent")]
    assert "/minutes 1" in (sent_call(bot, due[0]).plain_text or "")

    # --- minutes, then an objection: disputed ---
    minutes_msg = await bot.say(
        mette, "Referat 6. april: 1. Velkomst. 2. Temaaften 3. juni besluttet. 3. Madklub godkendt.", group
    )
    posted = await bot.say(
        mette, "/minutes 1", group, reply_to_message_id=_last_user_message_id(bot, group.id, mette.id)
    )
    assert minutes_msg is not None
    circulated = next(c for c in posted if c.method == "sendMessage" and c.chat_id == group.id)
    assert "Referat af mødet i Integrationsnetværket Rudersdal" in (circulated.plain_text or "")
    assert [b["text"] for b in circulated.buttons()] == ["Gør indsigelse"]
    await bot.run_due()
    copies = await notices(bot, kind="mtg_minutes", ref_id=1)
    # attendees and the substitute, not the one who sent regrets
    assert sorted(n.chat_id for n in copies) == sorted([yonas.id, hassan.id, sara.id])
    yonas_copy = sent_call(bot, next(n for n in copies if n.chat_id == yonas.id))
    assert geez(yonas_copy.plain_text or "") and "Madklub godkendt" in (yonas_copy.plain_text or "")
    asked = await bot.press(yonas, group.id, circulated.message_id or 0, "Gør indsigelse")
    assert any(c.method == "sendMessage" and c.chat_id == yonas.id for c in asked)
    objected = await bot.say(yonas, "Temaaftenen blev flyttet til 10. juni, ikke 3. juni.")
    posted_objection = [c for c in objected if c.chat_id == group.id]
    assert posted_objection and "Temaaftenen blev flyttet" in (posted_objection[0].plain_text or "")
    assert "Indsigelse" in (posted_objection[0].plain_text or "")
    # the window is 7 days on the wall clock
    bot.clock.set(datetime(2027, 4, 20, 14, 59, tzinfo=UTC))
    await bot.run_due()
    assert [n.state for n in await notices(bot, kind="mtg_mclose", ref_id=1)] == ["pending"]
    await bot.advance(minutes=1)
    assert [n.state for n in await notices(bot, kind="mtg_mclose", ref_id=1)] == ["sent"]
    closing = await notices(bot, kind="mtg_mresult", ref_id=1)
    assert [(n.chat_id, n.state) for n in closing] == [(group.id, "sent")]
    assert "Der er rejst indsigelse mod referatet" in (sent_call(bot, closing[0]).plain_text or "")
    assert "(1 indsigelse)" in (sent_call(bot, closing[0]).plain_text or "")
    disputed = await notices(bot, kind="mtg_disputed", ref_id=1)
    assert [(n.chat_id, n.state) for n in disputed] == [(mette.id, "sent")]
    assert "Temaaftenen blev flyttet" in (sent_call(bot, disputed[0]).plain_text or "")
    async with bot.services.sessionmaker() as s:
        meeting = await s.get(m.Meeting, 1)
        assert meeting is not None and meeting.minutes_state == "disputed"
        assert list((await s.scalars(select(m.Decision))).all()) == []

    # --- the second meeting: minutes go out, nobody objects -> approved, in the decisions log ---
    bot.clock.set(datetime(2027, 6, 9, 8, 0, tzinfo=UTC))
    await bot.run_due()
    await bot.say(mette, "Referat 8. juni: Sommerfesten holdes 21. juni i Frivilligcentret.", group)
    await bot.say(
        mette, "/minutes 2", group, reply_to_message_id=_last_user_message_id(bot, group.id, mette.id)
    )
    await bot.advance(days=7)
    closing2 = await notices(bot, kind="mtg_mresult", ref_id=2)
    assert [(n.chat_id, n.state) for n in closing2] == [(group.id, "sent")]
    assert "er godkendt" in (sent_call(bot, closing2[0]).plain_text or "")
    assert await notices(bot, kind="mtg_disputed", ref_id=2) == []
    async with bot.services.sessionmaker() as s:
        decisions = list((await s.scalars(select(m.Decision))).all())
        assert [(d.kind, d.meeting_id, d.outcome) for d in decisions] == [("minutes", 2, "approved")]
        assert "Sommerfesten holdes 21. juni" in decisions[0].text
    # an objection after the window is refused
    late_obj = await bot.press(
        yonas, group.id, _last_bot_message_with(bot, group.id, "Gør indsigelse"), "Gør indsigelse"
    )
    assert any(c.method == "answerCallbackQuery" and c.params.get("show_alert") for c in late_obj)

    # nothing was ever sent twice
    keys = [n.dedup_key for n in await notices(bot) if n.state == "sent"]
    assert len(keys) == len(set(keys))
    sent_ids = [(n.chat_id, n.message_id) for n in await notices(bot) if n.state == "sent" and n.message_id]
    assert len(sent_ids) == len(set(sent_ids))


def _last_user_message_id(bot: BotHarness, chat_id: int, user_id: int) -> int:
    own = [
        mid
        for mid, msg in bot.api.messages.get(chat_id, {}).items()
        if msg.get("from", {}).get("id") == user_id
    ]
    return max(own)


def _last_bot_message_with(bot: BotHarness, chat_id: int, label: str) -> int:
    for c in reversed(bot.api.all_calls):
        if (
            c.method == "sendMessage"
            and c.chat_id == chat_id
            and any(b["text"] == label for b in c.buttons())
        ):
            return c.message_id or 0
    raise AssertionError("no such message")
