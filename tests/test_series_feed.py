"""The calendar feed of a series, read by icalendar, vobject and ics, and expanded by an independent
library (recurring-ical-events) to the same occurrences the bot shows, across the spring DST change."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import icalendar
import recurring_ical_events
import vobject
from ics import Calendar as IcsCalendar
from sqlalchemy import select

from bot.db import models as m
from bot.testing.harness import BotHarness, texts
from bot.web.server import create_web_app

CPH = ZoneInfo("Europe/Copenhagen")


async def _events(bot: BotHarness) -> list[m.Event]:
    async with bot.services.sessionmaker() as s:
        return list((await s.scalars(select(m.Event).order_by(m.Event.starts_at, m.Event.id))).all())


def _scope(calls, which: int):  # type: ignore[no-untyped-def]
    return next(
        c for c in calls if c.buttons() and c.buttons()[0]["callback_data"].startswith("sscope:")
    ), which


async def test_series_feed_expands_to_the_bots_occurrences(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin = bot.user(1, "Mette", "da", username="mette")
    group = bot.group("Integrationsnetværket Rudersdal", admins=[admin])
    await bot.say(admin, "/setup", group)
    await bot.say(admin, "/newevent Åbent hus | hver torsdag kl. 16.30-18.30 | Biblioteket", group)
    # Into March: the horizon has rolled on over the change to summer time on 28 March 2027.
    while bot.clock() < datetime(2027, 3, 8, tzinfo=UTC):
        await bot.advance(days=7)
    now = bot.clock()
    upcoming = [e for e in await _events(bot) if e.starts_at > now]
    assert any(e.starts_at.astimezone(CPH).dst() for e in upcoming)  # some after the change
    cancelled, moved = upcoming[1], upcoming[2]
    # One date cancelled, one moved to 17-19: EXDATE and a RECURRENCE-ID override.
    calls = await bot.say(admin, f"/cancelevent {cancelled.id}", group)
    question, which = _scope(calls, 1)
    await bot.press(admin, group, question.message_id, which)
    calls = await bot.say(
        admin, f"/editevent {moved.id} when {moved.starts_at.astimezone(CPH):%Y-%m-%d} 17:00-19:00", group
    )
    question, which = _scope(calls, 1)
    await bot.press(admin, group, question.message_id, which)

    app = create_web_app(bot.services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        feed = (await client.get("/n/integrationsnetvaerket-rudersdal.ics")).content
        one = (await client.get(f"/e/{moved.id}.ics")).content
        page = (await client.get("/n/integrationsnetvaerket-rudersdal?lang=da")).text
        page_ar = (await client.get("/n/integrationsnetvaerket-rudersdal?lang=ar")).text

    cal = icalendar.Calendar.from_ical(feed)
    vevents = [c for c in cal.walk("VEVENT")]
    masters = [c for c in vevents if "RRULE" in c]
    overrides = [c for c in vevents if "RECURRENCE-ID" in c]
    assert (
        len(masters) == 1 and len(overrides) == 1 and len(vevents) == 2
    )  # a series is one VEVENT (+ override)
    master = masters[0]
    assert master["DTSTART"].params["TZID"] == "Europe/Copenhagen"
    assert master["DTSTART"].dt == datetime(2026, 11, 26, 16, 30, tzinfo=CPH)
    assert master["DTEND"].dt == datetime(2026, 11, 26, 18, 30, tzinfo=CPH)
    assert master["RRULE"]["FREQ"] == ["WEEKLY"] and master["RRULE"]["BYDAY"] == ["TH"]
    exdates = [
        d.dt
        for e in (master["EXDATE"] if isinstance(master["EXDATE"], list) else [master["EXDATE"]])
        for d in e.dts
    ]
    assert [d.astimezone(UTC) for d in exdates] == [cancelled.starts_at]
    assert int(master["SEQUENCE"]) >= 2  # bumped by the cancellation and the change
    assert overrides[0]["RECURRENCE-ID"].dt.astimezone(UTC) == moved.recurrence_at
    assert overrides[0]["UID"] == master["UID"]

    # The independent expander gives exactly the bot's scheduled occurrences, summer time included.
    horizon = max(e.starts_at for e in await _events(bot)) + timedelta(minutes=1)
    expanded = recurring_ical_events.of(cal).between(now, horizon)
    feed_starts = sorted(o["DTSTART"].dt.astimezone(UTC) for o in expanded)
    bot_starts = sorted(
        e.starts_at for e in await _events(bot) if e.status == "scheduled" and e.starts_at > now
    )
    assert feed_starts == bot_starts
    local = sorted(
        (o["DTSTART"].dt.astimezone(CPH).hour, o["DTSTART"].dt.astimezone(CPH).minute) for o in expanded
    )
    assert set(local) == {(16, 30), (17, 0)}  # 16.30 on the wall clock in winter and in summer

    # vobject reads the same series (its own rrule expansion) and the override.
    parsed = vobject.readOne(feed.decode())
    vmaster = next(v for v in parsed.vevent_list if hasattr(v, "rrule"))
    rset = vmaster.getrruleset(addRDate=True)
    vstarts = [d.astimezone(UTC) for d in rset.between(now, horizon)]
    assert cancelled.starts_at not in vstarts and moved.recurrence_at in vstarts
    assert any(hasattr(v, "recurrence_id") for v in parsed.vevent_list)
    # ics (ics.py) parses the feed too.
    ics_cal = IcsCalendar(feed.decode())
    assert any(e.name == "Åbent hus" for e in ics_cal.events)

    # /e/{id}.ics of an occurrence is that occurrence alone.
    single = icalendar.Calendar.from_ical(one)
    only = list(single.walk("VEVENT"))
    assert len(only) == 1 and "RRULE" not in only[0]
    assert only[0]["DTSTART"].dt.astimezone(UTC) == datetime.combine(
        moved.starts_at.astimezone(CPH).date(), datetime.min.time().replace(hour=17), CPH
    ).astimezone(UTC)

    # The public page lists the occurrences with the rhythm, in the reader's language.
    assert page.count("Åbent hus") == len(bot_starts) and "hver torsdag" in page
    assert "الخميس" in page_ar


async def test_whole_cancelled_series_in_feed(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin = bot.user(1, "Mette", "en", username="mette")
    group = bot.group("Lyngby Integrationsråd", admins=[admin])
    await bot.say(admin, "/setup", group)
    await bot.say(admin, "/newevent Homework café | every Tuesday 17:00-19:00 | Library", group)
    first = (await _events(bot))[0]
    calls = await bot.say(admin, f"/cancelevent {first.id}", group)
    question, _ = _scope(calls, 2)
    replies = texts(await bot.press(admin, group, question.message_id, 2))
    assert any("Cancelled: Homework café, 8 dates" in r for r in replies), replies
    app = create_web_app(bot.services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        async with bot.services.sessionmaker() as s:
            slug = (await s.scalars(select(m.Network.slug))).one()
        feed = (await client.get(f"/n/{slug}.ics")).content
    cal = icalendar.Calendar.from_ical(feed)
    (master,) = list(cal.walk("VEVENT"))
    assert master["STATUS"] == "CANCELLED" and "RRULE" in master
    assert recurring_ical_events.of(cal).between(bot.clock(), bot.clock() + timedelta(days=60)) == [] or all(
        o["STATUS"] == "CANCELLED"
        for o in recurring_ical_events.of(cal).between(bot.clock(), bot.clock() + timedelta(days=60))
    )
