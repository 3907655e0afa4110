"""Event reminders planned in the database: lead times, Remind me, moves, cancellations, DST."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.db import models as m
from bot.db.engine import create_engine, create_sessionmaker
from bot.domain import reminders

CPH = ZoneInfo("Europe/Copenhagen")


async def _setup(db_url: str, start: datetime) -> tuple[object, object]:
    engine = create_engine(db_url)
    sm = create_sessionmaker(engine)
    async with sm() as s:
        net = m.Network(chat_id=-100, name="Net", slug="net", timezone="Europe/Copenhagen", language="da")
        s.add(net)
        await s.flush()
        people = []
        for i, mins in enumerate(["1440", "15,60", "10080,1440", "60"]):
            p = m.Person(tg_id=1000 + i, first_name=f"P{i}", reminder_minutes=mins, reachable=True)
            s.add(p)
            people.append(p)
        await s.flush()
        # P0, P1, P2 follow; P3 only pressed Remind me on the event.
        for p in people[:3]:
            s.add(m.Membership(network_id=net.id, person_id=p.id, is_follower=True))
        ev = m.Event(
            network_id=net.id,
            title="Dinner",
            starts_at=start + timedelta(days=3),
            language="da",
            place="Hall",
        )
        s.add(ev)
        await s.flush()
        s.add(m.Rsvp(event_id=ev.id, person_id=people[3].id, remind=True))
        await s.commit()
    return engine, sm


async def _pending(sm: object, **where: object) -> list[m.Notice]:
    async with sm() as s:  # type: ignore[operator]
        q = select(m.Notice).where(m.Notice.state == "pending", m.Notice.kind == "event_reminder")
        return list((await s.scalars(q.order_by(m.Notice.due_at))).all())


async def test_lead_times_and_remind_me(db_url: str, start_time: datetime) -> None:
    engine, sm = await _setup(db_url, start_time)
    try:
        async with sm() as s:  # type: ignore[operator]
            ev = await s.scalar(select(m.Event))
            added = await reminders.plan_event_reminders(s, ev.id, start_time)
            await s.commit()
        # P0: 1 day; P1: 15 min + 1 h; P2: 1 day (1 week is already past); P3: 1 h.
        assert added == 5
        rows = await _pending(sm)
        got = sorted((r.chat_id, r.payload["minutes"]) for r in rows)
        assert got == [(1000, 1440), (1001, 15), (1001, 60), (1002, 1440), (1003, 60)]
        for r in rows:
            assert r.due_at == ev.starts_at - timedelta(minutes=r.payload["minutes"])
        # Planning again adds nothing.
        async with sm() as s:  # type: ignore[operator]
            assert await reminders.plan_event_reminders(s, ev.id, start_time) == 0
            await s.commit()
        assert len(await _pending(sm)) == 5
    finally:
        await engine.dispose()


async def test_moved_event_and_cancel(db_url: str, start_time: datetime) -> None:
    engine, sm = await _setup(db_url, start_time)
    try:
        async with sm() as s:  # type: ignore[operator]
            ev = await s.scalar(select(m.Event))
            await reminders.plan_event_reminders(s, ev.id, start_time)
            ev.starts_at = ev.starts_at + timedelta(hours=2)
            await reminders.plan_event_reminders(s, ev.id, start_time)
            await s.commit()
        rows = await _pending(sm)
        assert len(rows) == 5
        assert all(r.due_at == ev.starts_at - timedelta(minutes=r.payload["minutes"]) for r in rows)
        # Moved back: the original reminders come back (revived, not duplicated).
        async with sm() as s:  # type: ignore[operator]
            ev = await s.get(m.Event, ev.id)
            ev.starts_at = ev.starts_at - timedelta(hours=2)
            await reminders.plan_event_reminders(s, ev.id, start_time)
            await s.commit()
            assert len(await _pending(sm)) == 5
            assert await reminders.cancel_event_reminders(s, ev.id) == 5
            await s.commit()
        assert await _pending(sm) == []
    finally:
        await engine.dispose()


async def test_person_replan_and_unreachable(db_url: str, start_time: datetime) -> None:
    engine, sm = await _setup(db_url, start_time)
    try:
        async with sm() as s:  # type: ignore[operator]
            ev = await s.scalar(select(m.Event))
            await reminders.plan_event_reminders(s, ev.id, start_time)
            p1 = await s.scalar(select(m.Person).where(m.Person.tg_id == 1001))
            p1.reminder_minutes = "1440"
            await reminders.plan_person_reminders(s, p1.id, start_time)
            p0 = await s.scalar(select(m.Person).where(m.Person.tg_id == 1000))
            p0.reachable = False
            await reminders.plan_event_reminders(s, ev.id, start_time)
            await s.commit()
        got = sorted((r.chat_id, r.payload["minutes"]) for r in await _pending(sm))
        assert got == [(1001, 1440), (1002, 1440), (1003, 60)]
    finally:
        await engine.dispose()


def test_dst_day_lead_keeps_local_wall_clock() -> None:
    # Planned in winter for an event on the first summer-time day (29 March 2026, 17:00 CEST).
    starts = datetime(2026, 3, 29, 17, 0, tzinfo=CPH).astimezone(UTC)
    day = reminders.reminder_due(starts, 1440, "Europe/Copenhagen").astimezone(CPH)
    assert (day.day, day.hour, day.minute) == (28, 17, 0)  # 17:00 CET the day before (25 h earlier)
    week = reminders.reminder_due(starts, 10080, "Europe/Copenhagen").astimezone(CPH)
    assert (week.day, week.hour) == (22, 17)
    hour = reminders.reminder_due(starts, 60, "Europe/Copenhagen").astimezone(CPH)
    assert (hour.day, hour.hour) == (29, 16)
