"""Moving a meeting replans its notices and tells people; cancelling one stops them and tells people.
Nothing is sent twice."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from bot.db import models as m
from bot.testing.fake_bot_api import Call
from bot.testing.harness import BotHarness, texts


async def pending(bot: BotHarness) -> list[m.Notice]:
    async with bot.services.sessionmaker() as s:
        q = select(m.Notice).where(m.Notice.state == "pending").order_by(m.Notice.due_at)
        return list((await s.scalars(q)).all())


async def of_kind(bot: BotHarness, kind: str) -> dict[int, m.Notice]:
    async with bot.services.sessionmaker() as s:
        rows = (await s.scalars(select(m.Notice).where(m.Notice.kind == kind))).all()
        return {n.chat_id: n for n in rows}


def sent(bot: BotHarness, notice: m.Notice) -> Call:
    assert notice.state == "sent", notice.dedup_key
    return next(
        c
        for c in bot.api.all_calls
        if c.method == "sendMessage" and c.chat_id == notice.chat_id and c.message_id == notice.message_id
    )


def arabic(text: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" for ch in text)


def geez(text: str) -> bool:
    return any("\u1200" <= ch <= "\u137f" for ch in text)


async def test_move_and_cancel(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    mette = bot.user(1, "Mette", "da", username="mette")
    yonas = bot.user(2, "Yonas", "ti")  # answers Attending in the group
    hassan = bot.user(3, "Hassan", "da")  # sends regrets: not told privately
    amal = bot.user(4, "Amal", "ar")  # follows privately
    group = bot.group("Integrationsforum", admins=[mette])
    await bot.say(mette, "/setup", group)
    await bot.say(hassan, "/help", group)
    await bot.say(amal, "/start net_integrationsforum")
    await bot.say(mette, "/newmeeting 2027-02-04 16:30 | Marthas kontor, Birkerød", group)
    await bot.run_due()
    before = {n.dedup_key for n in await pending(bot)}
    assert len(before) == 9  # four later stages, their follower fan-outs, the minutes reminder
    async with bot.services.sessionmaker() as s:
        q = select(m.Notice).where(m.Notice.kind == "mtg_stage", m.Notice.state == "sent")
        call = next(n for n in (await s.scalars(q)).all() if n.chat_id == group.id)
    await bot.press(yonas, group.id, call.message_id or 0, "Deltager")
    await bot.press(hassan, group.id, call.message_id or 0, "Afbud")

    assert "⚠️" in texts(await bot.say(yonas, "/movemeeting 1 | 2027-02-11 16:30", group))[-1]
    assert {n.dedup_key for n in await pending(bot)} == before
    bad = texts(await bot.say(mette, "/movemeeting 1 | i forgårs", group))[-1]
    assert "⚠️" in bad and {n.dedup_key for n in await pending(bot)} == before
    same = texts(await bot.say(mette, "/movemeeting 1 | 2027-02-04 16:30", group))[-1]
    assert "⚠️" in same and {n.dedup_key for n in await pending(bot)} == before
    # a second meeting, so the notices list the next dates
    await bot.say(mette, "/newmeeting 2027-03-04 16:30 | Frivilligcentret", group)
    await bot.run_due()
    clash = texts(await bot.say(mette, "/movemeeting 1 | 2027-03-04 16:30", group))[-1]
    assert "⚠️" in clash and "2" in clash

    moved = texts(await bot.say(mette, "/movemeeting 1 | 2027-02-11 16:30", group))[-1]
    assert "torsdag den 11. februar 2027 16.30" in moved
    after = await pending(bot)
    assert not ({n.dedup_key for n in after} & before)
    final = next(n for n in after if n.payload.get("stage") == "final" and n.ref_id == 1)
    assert final.due_at == datetime(2027, 2, 4, 15, 30, tzinfo=UTC)  # 16:30 Copenhagen, 7 days before
    # no second call notice: the notice of the move says it
    assert not [n for n in after if n.ref_id == 1 and n.payload.get("stage") == "call"]

    # --- the move is told: group in Danish, Yonas (attending) in Tigrinya, Amal (follower) in Arabic ---
    await bot.run_due()
    told = await of_kind(bot, "mtg_moved")
    assert set(told) == {group.id, yonas.id, amal.id}  # not Hassan, who sent regrets
    group_text = sent(bot, told[group.id]).plain_text or ""
    assert "Mødet i Integrationsforum er flyttet" in group_text
    assert "torsdag den 11. februar 2027 16.30" in group_text
    assert "planlagt til torsdag den 4. februar 2027 16.30" in group_text
    assert "/additem" in group_text  # the deadline for items is still ahead
    assert "Næste møder: torsdag den 11. februar 2027 16.30; torsdag den 4. marts 2027 16.30" in group_text
    assert [b["text"] for b in sent(bot, told[group.id]).buttons()] == ["Deltager", "Afbud", "Sender suppleant", "🗣 Tolk"]
    yonas_text = sent(bot, told[yonas.id]).plain_text or ""
    assert geez(yonas_text) and "11" in yonas_text and "Integrationsforum" in yonas_text
    amal_call = sent(bot, told[amal.id])
    assert arabic(amal_call.plain_text or "") and "11" in (amal_call.plain_text or "")
    assert [b["text"] for b in amal_call.buttons()] == ["سأحضر", "أعتذر عن الحضور", "يحضر بديل عني", "🗣 مترجم فوري"]
    assert told[yonas.id].person_id is not None

    # --- cancelled: its pending notices stop, the cancellation is told ---
    assert "⚠️" in texts(await bot.say(mette, "/cancelmeeting 7", group))[-1]
    assert "⚠️" in texts(await bot.say(yonas, "/cancelmeeting 1", group))[-1]
    await bot.say(mette, "/cancelmeeting 1", group)
    left = await pending(bot)
    assert all(n.ref_id == 2 or n.kind == "mtg_cancelled" for n in left)
    await bot.run_due()
    cancelled = await of_kind(bot, "mtg_cancelled")
    assert set(cancelled) == {group.id, yonas.id, amal.id}
    group_text = sent(bot, cancelled[group.id]).plain_text or ""
    assert "Mødet i Integrationsforum er aflyst" in group_text
    assert "torsdag den 11. februar 2027 16.30" in group_text
    assert "Næste møder: torsdag den 4. marts 2027 16.30" in group_text
    assert geez(sent(bot, cancelled[yonas.id]).plain_text or "")
    assert arabic(sent(bot, cancelled[amal.id]).plain_text or "")

    bot.clock.set(datetime(2027, 2, 20, 12, 0, tzinfo=UTC))
    await bot.run_due()
    async with bot.services.sessionmaker() as s:
        late = (
            await s.scalars(
                select(m.Notice).where(
                    m.Notice.ref_id == 1,
                    m.Notice.state == "sent",
                    m.Notice.due_at > cancelled[group.id].due_at,
                )
            )
        ).all()
    assert late == []  # nothing of the cancelled meeting went out after its cancellation
    shown = texts(await bot.say(mette, "/meetings", group))[-1]
    assert "11. februar" not in shown and "4. marts" in shown


async def test_moved_close_to_the_meeting_sends_the_agenda(clocked_bot: BotHarness) -> None:
    """Moved so close that the deadline has passed: the notice carries the agenda instead of the call,
    and a move followed at once by a cancellation tells only the cancellation."""
    bot = clocked_bot
    mette = bot.user(1, "Mette", "da", username="mette")
    group = bot.group("Integrationsforum", admins=[mette])
    await bot.say(mette, "/setup", group)
    await bot.say(mette, "/newmeeting 2027-02-04 16:30 | Rådhuset", group)
    await bot.say(mette, "/additem Sommerfest | Hvem hjælper?", group)
    await bot.run_due()
    await bot.say(mette, "/movemeeting 1 | 2026-11-26 17:00", group)  # in three days: past the deadline
    await bot.run_due()
    told = await of_kind(bot, "mtg_moved")
    text = sent(bot, told[group.id]).plain_text or ""
    assert "Dagsorden for Integrationsforum" in text and "Sommerfest — fremlægges af Mette" in text
    assert "/additem" not in text.split("Dagsorden")[0]

    with bot.wakes_held():  # both handled before the dispatcher looks: the move is never told
        await bot.say(mette, "/movemeeting 1 | 2027-03-04 16:30", group)
        await bot.say(mette, "/cancelmeeting 1", group)
    await bot.run_due()
    async with bot.services.sessionmaker() as s:
        moves = (await s.scalars(select(m.Notice).where(m.Notice.kind == "mtg_moved"))).all()
    assert sorted(n.state for n in moves) == ["sent", "skipped"]
    assert (await of_kind(bot, "mtg_cancelled"))[group.id].state == "sent"


async def test_meeting_planned_late_and_notices_overtaken_by_downtime(clocked_bot: BotHarness) -> None:
    """A meeting planned five days ahead: its call says items are closed (not 'send by' a past date).
    After downtime past the meeting, the day-before reminder is not sent after the meeting."""
    bot = clocked_bot  # Monday 23 November 2026
    mette = bot.user(1, "Mette", "da", username="mette")
    amal = bot.user(2, "Amal", "ar")
    group = bot.group("Integrationsforum", admins=[mette])
    await bot.say(mette, "/setup", group)
    await bot.say(amal, "/start net_integrationsforum")
    reply = texts(await bot.say(mette, "/newmeeting 2026-11-28 17:00 | Rådhuset", group))[-1]
    assert "allerede overskredet" in reply and "koordinatorerne" in reply
    await bot.run_due()
    async with bot.services.sessionmaker() as s:
        rows = (await s.scalars(select(m.Notice).where(m.Notice.kind == "mtg_stage"))).all()
    call = next(n for n in rows if n.chat_id == group.id and n.payload["stage"] == "call")
    text = sent(bot, call).plain_text or ""
    assert "går til koordinatorerne" in text and "Velkomst og præsentationsrunde" in text
    assert "/additem" not in text
    assert sorted(n.payload["stage"] for n in rows if n.chat_id == group.id) == ["call", "daybefore"]

    bot.clock.set(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))  # the bot was down over the meeting
    await bot.run_due()
    async with bot.services.sessionmaker() as s:
        rows = (await s.scalars(select(m.Notice).where(m.Notice.kind == "mtg_stage"))).all()
    daybefore = [n for n in rows if n.payload["stage"] == "daybefore"]
    assert [(n.chat_id, n.state) for n in daybefore] == [(group.id, "skipped")]  # and no private copies
