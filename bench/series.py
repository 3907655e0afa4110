"""Benchmark: repeating events (SQLite).

- /events (query + render with each series' rhythm) with 1,000 open-ended weekly series and 100,000 single
  events across 100 networks: median and p95 (goal p95 < 50 ms);
- the stored occurrence rows: after creating the series, and after half a year of weekly horizon extensions
  (the rows ahead stay bounded by the horizon; past ones are history);
- start-up (import and build the application) and one horizon extension pass over 1,000 series with 10
  followers per network (each new occurrence gets its reminders and the next extension): time and peak
  memory (goals < 3 s, < 200 MB).

Prints figures; run with `.venv/bin/python -m bench.series`."""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
from sqlalchemy import func, insert, select

SERIES = 1_000
SINGLES = 100_000
NETWORKS = 100
FOLLOWERS_PER_NETWORK = 10


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 1e6


async def main() -> None:
    t_start = time.perf_counter()
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from bot.app import build_application
    from bot.config import Settings
    from bot.db import models as m
    from bot.domain import events as ev
    from bot.domain import recurrence as rr
    from bot.domain import series as sr
    from bot.domain import translations as tr
    from bot.i18n import get_translator
    from bot.render.events import list_text
    from bot.render.series import rhythms
    from bot.testing import db as testdb

    tmp = Path(tempfile.mkdtemp())
    url = await testdb.sqlite_url(tmp)
    settings = Settings(_env_file=None, database_url=url, bot_token="1:bench")  # type: ignore[call-arg]
    app = build_application(settings, migrate=False, register_commands=False, dispatch=False)
    startup = time.perf_counter() - t_start
    print(
        f"start-up (imports, every handler module, the application): {startup:.2f} s, RSS {rss_mb():.0f} MB"
    )

    engine = create_async_engine(url)
    maker = async_sessionmaker(engine, expire_on_commit=False)
    now = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    async with maker() as s:
        await s.execute(
            insert(m.Network),
            [
                {
                    "chat_id": -1000 - i,
                    "name": f"Netværk {i}",
                    "slug": f"net-{i}",
                    "timezone": "Europe/Copenhagen",
                    "language": "da",
                }
                for i in range(NETWORKS)
            ],
        )
        ids = list((await s.scalars(select(m.Network.id).order_by(m.Network.id))).all())
        await s.execute(
            insert(m.Person),
            [
                {"tg_id": 10_000 + i, "first_name": f"P{i}", "reminder_minutes": "1440"}
                for i in range(NETWORKS * FOLLOWERS_PER_NETWORK)
            ],
        )
        persons = list((await s.scalars(select(m.Person.id).order_by(m.Person.id))).all())
        await s.execute(
            insert(m.Membership),
            [
                {"network_id": ids[i % NETWORKS], "person_id": p, "is_follower": True}
                for i, p in enumerate(persons)
            ],
        )
        rows = []
        for i in range(SINGLES):
            start = now + timedelta(hours=(i * 7919) % (24 * 400) - 24 * 30)
            rows.append(
                {
                    "network_id": ids[i % NETWORKS],
                    "title": f"Fællesspisning {i}",
                    "place": "Egebæk",
                    "description": "",
                    "starts_at": start,
                    "language": "da",
                    "status": "scheduled",
                    "sequence": 0,
                    "updated_at": now,
                    "created_at": now,
                    "open_to_all": True,
                }
            )
        for i in range(0, len(rows), 5000):
            await s.execute(insert(m.Event), rows[i : i + 5000])
        await s.commit()
    days = ("mandag", "tirsdag", "onsdag", "torsdag", "fredag", "lørdag", "søndag")
    t0 = time.perf_counter()
    async with maker() as s:
        for i in range(SERIES):
            network = await s.get(m.Network, ids[i % NETWORKS])
            assert network is not None
            repeat = rr.parse_repeat(
                f"hver {days[i % 7]} kl. {10 + i % 9}.30-{12 + i % 9}.30", network.timezone, now
            )
            assert repeat is not None
            await sr.create_event_series(
                s,
                network,
                None,
                title=f"Åbent hus {i}",
                place="Biblioteket",
                description="",
                language="da",
                repeat=repeat,
                now=now,
            )
        await s.commit()
    created = time.perf_counter() - t0
    async with maker() as s:
        occurrences = await s.scalar(
            select(func.count()).select_from(m.Event).where(m.Event.series_id.is_not(None))
        )
    print(
        f"created {SERIES} open-ended weekly series in {created:.2f} s: {occurrences} occurrence rows "
        f"({(occurrences or 0) / SERIES:.1f} per series, horizon {sr.HORIZON.days} days)"
    )

    t = get_translator("ar")
    times = []
    shown_series = 0
    for i in range(300):
        net_ids = [ids[i % NETWORKS]] if i % 2 else ids[(i % 90) : (i % 90) + 5]
        q0 = time.perf_counter()
        async with maker() as s:
            page = await ev.upcoming(s, net_ids, now)
            texts = await tr.many_event_texts(s, page.events, t.lang)
            found = await sr.of_events(s, page.events)
            rh = rhythms(page.events, found, t)
            out = list_text(
                page.events,
                page.networks,
                texts,
                t,
                show_network=len(net_ids) > 1,
                more=page.more,
                rhythms=rh,
            )
        times.append((time.perf_counter() - q0) * 1000)
        shown_series += len(rh)
        assert out and len({e.series_id for e in page.events if e.series_id}) == len(rh)
    times.sort()
    p95 = times[int(len(times) * 0.95)]
    print(
        f"/events reply (query + render + rhythms), {SINGLES:,} single events + {SERIES:,} weekly series / "
        f"{NETWORKS} networks: median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms (goal < 50 ms); "
        f"{shown_series} series lines shown in 300 replies"
    )

    # Horizon extension: one pass a week later (what the series_extend actions do), timed, with memory.
    rss_before = rss_mb()
    later = now + timedelta(days=7)
    t0 = time.perf_counter()
    async with maker() as s:
        made = await sr.extend_all(s, later)
        await s.commit()
    took = time.perf_counter() - t0
    async with maker() as s:
        reminders = await s.scalar(
            select(func.count()).select_from(m.Notice).where(m.Notice.kind == "event_reminder")
        )
    print(
        f"horizon extension pass over {SERIES} series ({FOLLOWERS_PER_NETWORK} followers per network): "
        f"{made} new occurrences with their reminders in {took:.2f} s (goal < 3 s); RSS {rss_before:.0f} -> "
        f"{rss_mb():.0f} MB (goal < 200 MB); {reminders} reminder notices in all"
    )

    # Half a year on, week by week: the rows ahead stay bounded.
    when = later
    for _ in range(25):
        when += timedelta(days=7)
        async with maker() as s:
            await sr.extend_all(s, when)
            await s.commit()
    async with maker() as s:
        ahead = await s.scalar(
            select(func.count())
            .select_from(m.Event)
            .where(m.Event.series_id.is_not(None), m.Event.starts_at > when)
        )
        total = await s.scalar(
            select(func.count()).select_from(m.Event).where(m.Event.series_id.is_not(None))
        )
    print(
        f"after 26 weeks of extensions: {ahead} occurrence rows ahead ({(ahead or 0) / SERIES:.1f} per series, "
        f"bounded by the horizon), {total} in all (the past ones are history); peak RSS {rss_mb():.0f} MB"
    )
    del app
    await engine.dispose()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
