"""End-to-end: repeating events through the real Application (both backends), in da, ar, ti and en."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.db import models as m
from bot.testing.harness import BotHarness, texts


async def _setup(bot: BotHarness, lang: str = "da"):  # type: ignore[no-untyped-def]
    admin = bot.user(1, "Mette", lang, username="mette")
    group = bot.group("Integrationsnetværket Rudersdal", admins=[admin])
    await bot.say(admin, "/setup", group)
    return admin, group


async def _rows(bot: BotHarness, model: type, *where: object) -> list:  # type: ignore[type-arg]
    async with bot.services.sessionmaker() as s:
        return list((await s.scalars(select(model).where(*where).order_by(model.id))).all())


async def _deliver(bot: BotHarness) -> None:
    """Deliver what is due, letting a few seconds pass for sends the pacer or a 429 put off."""
    for _ in range(10):
        await bot.advance(seconds=3)


async def _count(bot: BotHarness, model: type, *where: object) -> int:
    async with bot.services.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# (language, the weekly open house as people write it, what /events shows of the rhythm, weekday word)
WEEKLY = [
    ("da", "hver torsdag kl. 16.30-18.30", "hver torsdag"),
    ("en", "every Thursday 16:30-18:30", "every Thursday"),
    ("ar", "كل خميس الساعة 16:30-18:30", "الخميس"),
    ("ti", "ኩሉ ሓሙስ ሰዓት 16:30-18:30", "ሓሙስ"),
]


@pytest.mark.parametrize(("lang", "when", "rhythm"), WEEKLY)
async def test_weekly_open_house(clocked_bot: BotHarness, lang: str, when: str, rhythm: str) -> None:
    bot = clocked_bot
    admin, group = await _setup(bot)
    follower = bot.user(5, "Amal", lang)
    await bot.say(follower, "/start net_integrationsnetvaerket-rudersdal")
    await bot.say(admin, "/language", group)
    person = bot.user(2, "Yonas", lang)
    await bot.say(person, "/start")
    await bot.say(person, "hi", group)  # a member of the group
    calls = await bot.say(person, f"/newevent Åbent hus | {when} | Rudersdal Bibliotek", group)
    card = next(c for c in calls if c.method == "sendMessage" and c.chat_id == group.id)
    # The group reads Danish: the card says when the first one is, and the rhythm.
    assert "torsdag den 26. november 2026" in (card.plain_text or ""), card.plain_text
    assert "16.30" in (card.plain_text or "") and "18.30" in (card.plain_text or "")
    assert "hver torsdag" in (card.plain_text or "")
    # Occurrences exist up to the horizon (8 weeks), each its own row; one series.
    events = await _rows(bot, m.Event)
    assert len(events) == 8
    assert len({e.series_id for e in events}) == 1
    assert [e.starts_at.astimezone(UTC).hour for e in events] == [15] * 8  # 16.30 winter time
    await bot.run_due()
    to_follower = [c for c in bot.api.all_calls if c.method == "sendMessage" and c.chat_id == follower.id]
    announcements = [c for c in to_follower if "Åbent hus" in (c.plain_text or "")]
    assert len(announcements) == 1  # one announcement for the series
    listing = texts(await bot.say(follower, "/events"))[-1]
    assert listing.count("Åbent hus") == 1
    assert rhythm in listing, listing


MONTHLY = [
    ("da", "første søndag i måneden kl. 13-16", "første søndag i måneden"),
    ("en", "first Sunday of the month 13:00-16:00", "the first Sunday of every month"),
    ("ar", "أول أحد من كل شهر الساعة 13:00-16:00", "الأحد"),
    ("ti", "ቀዳማይ ሰንበት ናይ ነፍሲ ወከፍ ወርሒ ሰዓት 13:00-16:00", "ቀዳማይ ሰንበት"),
]


@pytest.mark.parametrize(("lang", "when", "rhythm"), MONTHLY)
async def test_monthly_dinner(clocked_bot: BotHarness, lang: str, when: str, rhythm: str) -> None:
    bot = clocked_bot
    _admin, group = await _setup(bot)
    person = bot.user(2, "Yonas", lang)
    await bot.say(person, "hi", group)
    calls = await bot.say(
        person, f"/newevent Fællesspisning | {when} | Egebæk Medborgerhus", private_chat_of(person)
    )
    assert any("Fællesspisning" in t for t in texts(calls)), texts(calls)
    events = await _rows(bot, m.Event)
    # The first Sundays of December 2026 and January 2027 are within the 8-week horizon (and no more).
    assert [(e.starts_at.day, e.starts_at.month, e.starts_at.hour) for e in events] == [
        (6, 12, 12),
        (3, 1, 12),
    ]
    listing = texts(await bot.say(person, "/events", group))[-1]
    assert "Fællesspisning" in listing and "første søndag i måneden" in listing  # the group reads Danish
    own = texts(await bot.say(person, "/event 1"))[-1]
    assert rhythm in own, own


def private_chat_of(user):  # type: ignore[no-untyped-def]
    from bot.testing.harness import private_chat

    return private_chat(user)


@pytest.mark.parametrize(
    ("lang", "when"),
    [
        ("da", "17. maj, 30. august og 22. november kl. 16.30"),
        ("en", "17 May, 30 August and 22 November 16:30"),
        ("ar", "17 مايو، 30 أغسطس و22 نوفمبر الساعة 16:30"),
        ("ti", "17 ግንቦት፣ 30 ነሓሰ ከምኡ ውን 22 ሕዳር ሰዓት 16:30"),
    ],
)
async def test_three_dates_meeting_series(clocked_bot: BotHarness, lang: str, when: str) -> None:
    bot = clocked_bot
    admin = bot.user(1, "Mette", lang, username="mette")
    group = bot.group("Integrationsrådet", admins=[admin])
    await bot.say(admin, "/setup", group)
    calls = await bot.say(admin, f"/newmeeting {when} | Rådhuset", group)
    reply = texts(calls)
    meetings = await _rows(bot, m.Meeting)
    assert [(x.starts_at.day, x.starts_at.month, x.starts_at.year) for x in meetings] == [
        (17, 5, 2027),
        (30, 8, 2027),
        (22, 11, 2027),
    ], reply
    # 16.30 local: summer time in May and August, winter time in November.
    assert [x.starts_at.hour for x in meetings] == [14, 14, 15]
    assert len({x.series_id for x in meetings}) == 1 and meetings[0].series_id is not None
    # Each meeting runs its own notice cycle.
    calls_due = await _count(bot, m.Notice, m.Notice.kind == "mtg_stage")
    assert calls_due >= 3 * 4
    # Only the first meeting's call goes out now; each later one the day after the meeting before it.
    stage_rows = await _rows(bot, m.Notice)
    call_days = sorted(
        (n.due_at.astimezone(UTC).date(), n.ref_id)
        for n in stage_rows
        if n.kind == "mtg_stage" and n.payload.get("stage") == "call"
    )
    assert [(d.day, d.month) for d, _ in call_days] == [
        (bot.clock().day, bot.clock().month),
        (18, 5),
        (31, 8),
    ]
    # Moving one meeting asks; "Only this one" moves that one alone.
    asked = await bot.say(admin, f"/movemeeting {meetings[1].id} | 2027-09-06 16:30", group)
    question = _question(asked, "mscope:")
    assert len(question.buttons()) == 2
    await bot.press(admin, group, question.message_id, 1)
    after = {x.id: x for x in await _rows(bot, m.Meeting)}
    assert after[meetings[1].id].starts_at == datetime(2027, 9, 6, 14, 30, tzinfo=UTC)
    assert after[meetings[2].id].starts_at == meetings[2].starts_at
    # Cancelling the first with "This and later ones" cancels all three.
    asked = await bot.say(admin, f"/cancelmeeting {meetings[0].id}", group)
    question = _question(asked, "mscope:")
    pressed = await bot.press(admin, group, question.message_id, 2)
    assert {x.status for x in await _rows(bot, m.Meeting)} == {"cancelled"}, texts(asked + pressed)


async def test_meeting_rhythm(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin, group = await _setup(bot)
    await bot.say(admin, "/newmeeting hver 3. måned fra 6. januar kl. 17 | Rådhuset", group)
    meetings = await _rows(bot, m.Meeting)
    # A year ahead: January, April, July and October 2027.
    assert [(x.starts_at.month, x.starts_at.year) for x in meetings] == [
        (1, 2027),
        (4, 2027),
        (7, 2027),
        (10, 2027),
    ]
    assert [x.starts_at.astimezone(UTC).hour for x in meetings] == [16, 15, 15, 15]


def _question(calls, prefix: str):  # type: ignore[no-untyped-def]
    """The message whose buttons carry this callback kind (not a card or notice sent meanwhile)."""
    return next(c for c in calls if c.buttons() and c.buttons()[0]["callback_data"].startswith(prefix))


async def _press_scope(bot: BotHarness, user, chat, calls, which: int):  # type: ignore[no-untyped-def]
    question = _question(calls, "sscope:")
    assert [b["text"] for b in question.buttons()] == ["Kun denne", "Denne og de senere"]
    return await bot.press(user, chat, question.message_id, which)


async def test_cancel_one_and_later(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin, group = await _setup(bot)
    going = bot.user(7, "Amal", "ar")
    follower = bot.user(8, "Selam", "ti")
    await bot.say(follower, "/start net_integrationsnetvaerket-rudersdal")
    await bot.say(admin, "/newevent Åbent hus | hver torsdag kl. 16.30-18.30 | Biblioteket", group)
    events = await _rows(bot, m.Event)
    second, third = events[1], events[2]
    # Amal is going to the second and the third Thursday.
    for e in (second, third):
        calls = await bot.say(going, f"/event {e.id}")
        card = next(c for c in calls if c.buttons() and c.chat_id == going.id)
        pressed = await bot.press(going, card.chat_id, card.message_id, 1)
        assert any("ستحضر" in x for x in texts(pressed)), texts(pressed)
    assert [(r.event_id, r.status) for r in await _rows(bot, m.Rsvp)] == [
        (second.id, "going"),
        (third.id, "going"),
    ]
    await _deliver(bot)
    bot.api.all_calls.clear()
    # Only this one: the second Thursday is cancelled; those going to it are told, in their language.
    calls = await bot.say(admin, f"/cancelevent {second.id}", group)
    await _press_scope(bot, admin, group, calls, 1)
    await _deliver(bot)
    to_amal = texts(bot.api.all_calls, going.id)
    assert len(to_amal) == 1 and "أُلغي" in to_amal[0], to_amal
    statuses = {e.id: e.status for e in await _rows(bot, m.Event)}
    assert statuses[second.id] == "cancelled" and statuses[third.id] == "scheduled"
    # /events still shows the series once, at its next occurrence (the first Thursday).
    listing = texts(await bot.say(admin, "/events", group))[-1]
    assert listing.count("Åbent hus") == 1 and f"/event_{events[0].id}" in listing
    bot.api.all_calls.clear()
    # This and later ones, from the third Thursday: the rest is cancelled, the rule ends before it.
    calls = await bot.say(admin, f"/cancelevent {third.id}", group)
    await _press_scope(bot, admin, group, calls, 2)
    await _deliver(bot)
    after = await _rows(bot, m.Event)
    assert [e.status for e in after] == ["scheduled", "cancelled"] + ["cancelled"] * (len(after) - 2)
    to_amal = texts(bot.api.all_calls, going.id)
    assert len(to_amal) == 1, to_amal  # one message, though she was going to one of many dates
    to_selam = texts(bot.api.all_calls, follower.id)
    assert len(to_selam) == 1 and "ተሰሪዙ" in to_selam[0], to_selam
    series = (await _rows(bot, m.Series))[0]
    assert "UNTIL=" in (series.rrule or "")
    # Later extensions make no new occurrences after the end.
    await bot.advance(days=21)
    assert len(await _rows(bot, m.Event)) == len(after)
    # Cancelling the whole series (from its first upcoming date) says so once to followers.


async def test_whole_series_cancelled_once(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin, group = await _setup(bot)
    follower = bot.user(8, "Selam", "en")
    await bot.say(follower, "/start net_integrationsnetvaerket-rudersdal")
    await bot.say(admin, "/newevent Lektiecafé | hver tirsdag kl. 17-19 | Biblioteket", group)
    await _deliver(bot)
    bot.api.all_calls.clear()
    first = (await _rows(bot, m.Event))[0]
    calls = await bot.say(admin, f"/cancelevent {first.id}", group)
    await _press_scope(bot, admin, group, calls, 2)
    await _deliver(bot)
    to_follower = texts(bot.api.all_calls, follower.id)
    assert to_follower == [
        "❌ Cancelled: Lektiecafé will no longer take place (Integrationsnetværket Rudersdal)."
    ]
    assert (await _rows(bot, m.Series))[0].status == "cancelled"
    assert "No upcoming events" in texts(await bot.say(follower, "/events"))[-1]


async def test_edit_later_moves_time_and_reminders(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin, group = await _setup(bot)
    going = bot.user(7, "Amal", "ar")
    await bot.say(admin, "/newevent Åbent hus | hver torsdag kl. 16.30-18.30 | Biblioteket", group)
    events = await _rows(bot, m.Event)
    calls = await bot.say(going, f"/event {events[2].id}")
    card = next(c for c in calls if c.buttons() and c.chat_id == going.id)
    await bot.press(going, card.chat_id, card.message_id, 3)  # Remind me
    bot.api.all_calls.clear()
    calls = await bot.say(admin, f"/editevent {events[2].id} when fredag kl. 17-19", group)
    await _press_scope(bot, admin, group, calls, 2)
    after = await _rows(bot, m.Event)
    local = [e.starts_at.astimezone(UTC) for e in after]
    # The first two stay on Thursday 16.30; from the third on, Friday 17.00-19.00 (winter: 16 UTC).
    assert [(d.weekday(), d.hour, d.minute) for d in local[:2]] == [(3, 15, 30)] * 2
    assert all((d.weekday(), d.hour, d.minute) == (4, 16, 0) for d in local[2:])
    assert all(e.ends_at is not None and e.ends_at - e.starts_at == timedelta(hours=2) for e in after[2:])
    # Two series now: the old one ends before the third date; the new one is on Fridays.
    series = await _rows(bot, m.Series)
    assert len(series) == 2 and "UNTIL=" in (series[0].rrule or "") and "BYDAY=FR" in (series[1].rrule or "")
    # Amal's reminder moved with the time.
    reminders = await _rows(bot, m.Notice, m.Notice.kind == "event_reminder", m.Notice.state == "pending")
    assert [r.due_at for r in reminders if r.person_id is not None and r.ref_id == events[2].id] == [
        after[2].starts_at - timedelta(days=1)
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hver blåmandag kl. 17", "hver torsdag kl. 16.30-18.30"),
        ("hver torsdag kl. 17 indtil 24. november 2026", "ingen dato i fremtiden"),
        ("hver torsdag kl. 17 fra 3. december indtil 1. december", "Slutdatoen ligger før starten"),
        ("hver torsdag kl. 17 indtil 1. januar 2030", "mere end to års"),
        ("hver torsdag", "klokkeslæt"),
    ],
)
async def test_bad_rules_create_nothing(clocked_bot: BotHarness, text: str, expected: str) -> None:
    bot = clocked_bot
    admin, group = await _setup(bot)
    replies = texts(await bot.say(admin, f"/newevent Åbent hus | {text} | Biblioteket", group))
    assert replies and replies[0].startswith("⚠️") and expected in replies[0], replies
    assert "kl." in replies[0]  # with an example
    assert await _count(bot, m.Event) == 0 and await _count(bot, m.Series) == 0


async def test_bad_rule_in_arabic(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    _admin, group = await _setup(bot)
    person = bot.user(2, "Amal", "ar")
    await bot.say(person, "hi", group)
    replies = texts(await bot.say(person, "/newevent عشاء | كل خميس الساعة 17 حتى 1 يناير 2030 | المكتبة"))
    assert "أكثر من سنتين" in replies[0], replies
    assert await _count(bot, m.Event) == 0


async def test_guided_dialogue_asks_how_often(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin, group = await _setup(bot)
    await bot.say(admin, "/newevent", group)
    await bot.say(admin, "Spilleaften", group)
    await bot.say(admin, "tirsdag kl. 18-21", group)
    await bot.say(admin, "Medborgerhuset", group)
    calls = await bot.say(admin, "-", group)
    question = _question(calls, "srep:")
    assert [b["text"] for b in question.buttons()] == ["Én gang", "Hver uge", "Hver 2. uge", "Månedligt"]
    calls = await bot.press(admin, group, question.message_id, "Hver 2. uge")
    events = await _rows(bot, m.Event)
    assert len(events) == 4  # every other Tuesday, 8 weeks ahead
    assert (events[1].starts_at - events[0].starts_at) == timedelta(days=14)
    assert any("hver 2. uge, tirsdag" in t for t in texts(calls)), texts(calls)


async def test_reminders_across_dst(clocked_bot: BotHarness) -> None:
    """A weekly 16.30 open house made in November: the horizon rolls on by itself, and the reminders of the
    first occurrence after the spring change come at 16.30 summer time the day before (14.30 UTC)."""
    bot = clocked_bot
    admin, group = await _setup(bot)
    follower = bot.user(8, "Selam", "ti")
    await bot.say(follower, "/start net_integrationsnetvaerket-rudersdal")
    await bot.say(admin, "/newevent Åbent hus | hver torsdag kl. 16.30-18.30 | Biblioteket", group)
    # Week by week until after the change on 28 March 2027: the extension actions run on the frozen clock.
    while bot.clock() < datetime(2027, 3, 26, tzinfo=UTC):
        await bot.advance(days=7)
    events = await _rows(bot, m.Event)
    assert len([e for e in events if e.starts_at > bot.clock()]) <= 9  # bounded by the horizon
    after_change = next(e for e in events if e.starts_at > datetime(2027, 3, 28, tzinfo=UTC))
    assert after_change.starts_at == datetime(2027, 4, 1, 14, 30, tzinfo=UTC)  # 16.30 summer time
    assert after_change.ends_at == datetime(2027, 4, 1, 16, 30, tzinfo=UTC)
    bot.api.all_calls.clear()
    await bot.advance(days=6, hours=1)  # to 31 March, past 16.30 local
    sent = [c for c in bot.api.all_calls if c.method == "sendMessage" and c.chat_id == follower.id]
    assert (sent and "ዘኻኽር" in (sent[-1].plain_text or "")) or "⏰" in (sent[-1].plain_text or "")
    reminder = (
        await _rows(bot, m.Notice, m.Notice.kind == "event_reminder", m.Notice.ref_id == after_change.id)
    )[0]
    assert reminder.due_at == datetime(2027, 3, 31, 14, 30, tzinfo=UTC) and reminder.state == "sent"


async def test_edit_place_later_and_meeting_rhythm_in_english(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin = bot.user(1, "Sara", "en", username="sara")
    group = bot.group("Lyngby Council", admins=[admin])
    await bot.say(admin, "/setup", group)
    await bot.say(admin, "/newevent Homework café | every Tuesday 17:00-19:00 | Library", group)
    events = await _rows(bot, m.Event)
    calls = await bot.say(admin, f"/editevent {events[3].id} place Town hall", group)
    question = _question(calls, "sscope:")
    assert [b["text"] for b in question.buttons()] == ["Only this one", "This and later ones"]
    replies = texts(await bot.press(admin, group, question.message_id, 2))
    assert any("Saved for 5 dates" in r for r in replies), replies
    assert [e.place for e in await _rows(bot, m.Event)] == ["Library"] * 3 + ["Town hall"] * 5
    await bot.say(admin, "/newmeeting every 3 months from 6 January 17:00 | Town hall", group)
    meetings = await _rows(bot, m.Meeting)
    assert [(x.starts_at.month, x.starts_at.year) for x in meetings] == [
        (1, 2027),
        (4, 2027),
        (7, 2027),
        (10, 2027),
    ]
