"""The delivery engine against the local Bot API fake: pacing, 429/403/5xx/timeouts, catch-up,
two dispatchers on one database, reminders delivered at the right local time."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.db import models as m
from bot.schedule.notices import Rendered, enqueue_many, renderer
from bot.schedule.pacing import Limits
from bot.testing.harness import BotHarness


@renderer("test_ping")
async def _render_ping(session: Any, notice: m.Notice, t: Any) -> Rendered | None:
    return Rendered(f"ping {notice.payload.get('n', 0)} {t.lang}")


async def _people(h: BotHarness, n: int, base: int = 5000) -> list[tuple[int, int]]:
    async with h.services.sessionmaker() as s:
        persons = [m.Person(tg_id=base + i, first_name=f"F{i}", reminder_minutes="1440") for i in range(n)]
        s.add_all(persons)
        await s.commit()
        return [(p.id, p.tg_id) for p in persons]


async def _enqueue(h: BotHarness, people: list[tuple[int, int]], due: datetime, tag: str = "t") -> None:
    async with h.quiet_session() as s:
        await enqueue_many(
            s,
            [
                {
                    "kind": "test_ping",
                    "dedup_key": f"{tag}:{pid}",
                    "chat_id": tg,
                    "due_at": due,
                    "person_id": pid,
                    "payload": {"n": f"{tag}{i}"},
                }
                for i, (pid, tg) in enumerate(people)
            ],
        )
        await s.commit()


async def _states(h: BotHarness) -> Counter[str]:
    async with h.services.sessionmaker() as s:
        return Counter((await s.scalars(select(m.Notice.state))).all())


async def test_paced_with_limits_enforced_no_429_exactly_once(db_url: str) -> None:
    async with BotHarness(db_url, limits=Limits()) as h:
        h.api.enforce_limits = True
        people = await _people(h, 40)
        # Two notices to each of five chats, due together: 1/s per chat must hold.
        await _enqueue(h, people, h.clock())
        await _enqueue(h, people[:5], h.clock(), tag="again")
        sent = await h.run_due()
        assert sent == 45
        assert h.api.count_429 == 0
        assert h.api.duplicates() == {}
        assert len(h.api.sent_messages()) == 45
        for _pid, tg in people[:5]:
            times = [c.time for c in h.api.sent_messages(tg)]
            # 1/s per chat at the sender; at the receiver, even a loaded machine keeps them apart.
            assert len(times) == 2 and times[1] - times[0] >= 0.5
        assert (await _states(h)) == Counter({"sent": 45})


async def test_429_honoured_nothing_lost(db_url: str) -> None:
    async with BotHarness(db_url) as h:
        people = await _people(h, 6)
        h.api.fail_next("sendMessage", chat_id=people[2][1], kind="429", retry_after=1, count=1)
        await _enqueue(h, people, h.clock())
        t0 = asyncio.get_running_loop().time()
        assert await h.run_due() == 6
        assert asyncio.get_running_loop().time() - t0 >= 0.9  # waited for retry_after
        assert h.api.count_429 == 0  # injected failures are not the fake's own limit counter
        assert sorted(c.chat_id for c in h.api.sent_messages()) == sorted(tg for _, tg in people)
        assert h.api.duplicates() == {}


async def test_403_marks_unreachable_and_is_not_retried(db_url: str) -> None:
    async with BotHarness(db_url) as h:
        people = await _people(h, 3)
        blocked = people[1]
        h.api.block(blocked[1])
        await _enqueue(h, people, h.clock())
        assert await h.run_due() == 2
        h.clock.advance(timedelta(hours=1))
        assert await h.run_due() == 0
        assert len([c for c in h.api.calls("sendMessage", blocked[1])]) == 1
        async with h.services.sessionmaker() as s:
            p = await s.get(m.Person, blocked[0])
            assert p is not None and p.reachable is False
            n = await s.scalar(select(m.Notice).where(m.Notice.person_id == blocked[0]))
            assert n is not None and n.state == "failed" and n.last_error == "forbidden"


async def test_5xx_retried_with_backoff_then_failed(db_url: str, start_time: datetime) -> None:
    async with BotHarness(db_url, now=start_time) as h:
        people = await _people(h, 2)
        flaky, broken = people
        h.api.fail_next("sendMessage", chat_id=flaky[1], kind="502", count=1)
        h.api.fail_next("sendMessage", chat_id=broken[1], kind="500", count=10)
        await _enqueue(h, people, start_time)
        assert await h.run_due() == 0
        # Backoff: not retried before it is due again.
        assert await h.run_due() == 0
        assert len(h.api.calls("sendMessage", flaky[1])) == 1
        assert await h.advance(seconds=2) == 1  # the flaky one goes through on its second attempt
        for step in (4, 8, 16):
            await h.advance(seconds=step)
        assert len(h.api.calls("sendMessage", broken[1])) == h.services.dispatcher.max_attempts  # type: ignore[union-attr]
        async with h.services.sessionmaker() as s:
            n = await s.scalar(select(m.Notice).where(m.Notice.person_id == broken[0]))
            assert n is not None and n.state == "failed" and n.attempts == 4
        assert len(h.api.sent_messages(flaky[1])) == 1


async def test_timeout_retried(db_url: str) -> None:
    async with BotHarness(db_url) as h:
        h.api.timeout_delay = 0.5
        h.app.bot._request[1]._client.timeout = None  # type: ignore[attr-defined]
        people = await _people(h, 2)
        h.api.fail_next("sendMessage", chat_id=people[0][1], kind="timeout", count=1)
        await _enqueue(h, people, h.clock())
        await h.run_due()
        h.clock.advance(timedelta(seconds=3))
        await h.run_due()
        assert sorted(c.chat_id for c in h.api.sent_messages()) == sorted(tg for _, tg in people)
        assert (await _states(h)) == Counter({"sent": 2})


async def test_catch_up_after_downtime(db_url: str, start_time: datetime) -> None:
    async with BotHarness(db_url, now=start_time) as h:
        people = await _people(h, 5)
        # Due while the bot was down (an hour ago), and one not yet due.
        await _enqueue(h, people[:4], start_time - timedelta(hours=1))
        await _enqueue(h, people[4:], start_time + timedelta(hours=1), tag="later")
        assert await h.run_due() == 4
        assert await h.run_due() == 0
        assert await h.advance(hours=1) == 1
        assert h.api.duplicates() == {}


async def test_two_dispatchers_one_database_exactly_once(db_url: str) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several instances need PostgreSQL")
    async with BotHarness(db_url) as a, BotHarness(db_url, api=a.api) as b:
        people = await _people(a, 300)
        await _enqueue(a, people, a.clock())
        sa, sb = await asyncio.gather(a.run_due(), b.run_due())
        assert sa + sb == 300
        assert sa > 0 and sb > 0
        assert a.api.duplicates() == {}
        assert len(a.api.sent_messages()) == 300


async def test_stale_claims_of_a_dead_instance_are_taken_back(db_url: str) -> None:
    async with BotHarness(db_url) as h:
        people = await _people(h, 3)
        await _enqueue(h, people, h.clock())
        d = h.services.dispatcher
        assert d is not None
        jobs = await d.claim(h.clock())  # claimed, then the "instance" dies
        assert len(jobs) == 3
        d._held.clear()
        assert await h.run_due() == 0  # fresh claims are respected
        h.clock.advance(d.stale_after + timedelta(seconds=1))
        assert await h.run_due() == 3
        assert h.api.duplicates() == {}


async def test_reminder_planned_in_winter_fires_at_summer_local_time(db_url: str) -> None:
    from bot.domain import reminders
    from bot.schedule.notices import RENDERERS

    # The events feature renders reminders; this test is about timing, so any renderer will do.
    RENDERERS.setdefault("event_reminder", _render_ping)
    cph = ZoneInfo("Europe/Copenhagen")
    winter = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
    async with BotHarness(db_url, now=winter) as h:
        async with h.services.sessionmaker() as s:
            net = m.Network(chat_id=-1, name="N", slug="n", timezone="Europe/Copenhagen", language="da")
            p = m.Person(tg_id=777, first_name="A", reminder_minutes="60,1440")
            s.add_all([net, p])
            await s.flush()
            s.add(m.Membership(network_id=net.id, person_id=p.id, is_follower=True))
            ev = m.Event(
                network_id=net.id,
                title="Fællesspisning",
                starts_at=datetime(2026, 6, 3, 18, 0, tzinfo=cph),
                language="da",
            )
            s.add(ev)
            await s.flush()
            await reminders.plan_event_reminders(s, ev.id, winter)
            await s.commit()
        # Nothing early: the day before at 17:59 local (summer time) nothing has gone.
        h.clock.set(datetime(2026, 6, 2, 17, 59, tzinfo=cph))
        await h.run_due()
        assert h.api.sent_messages(777) == []
        h.clock.set(datetime(2026, 6, 2, 18, 0, tzinfo=cph))
        await h.run_due()
        async with h.services.sessionmaker() as s:
            sent = (await s.scalars(select(m.Notice).where(m.Notice.state == "sent"))).all()
            assert [n.payload["minutes"] for n in sent] == [1440]
            assert sent[0].due_at.astimezone(cph).hour == 18
        h.clock.set(datetime(2026, 6, 3, 17, 0, tzinfo=cph))
        await h.run_due()
        async with h.services.sessionmaker() as s:
            assert await s.scalar(select(m.Notice).where(m.Notice.state == "pending")) is None
