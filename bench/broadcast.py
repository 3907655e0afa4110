"""Delivery benchmark: a broadcast to 1,000 followers against the local Bot API fake with Telegram's
limits enforced, reminder latency, capacity with the limits lifted, and start-up with 100,000
pending notices.

    .venv/bin/python bench/broadcast.py [--db sqlite|postgresql] [--followers 1000]

`--child --db-url URL --api URL` runs just the bot's delivery engine against a Bot API at URL
(used by tests/test_delivery_restart.py, which kills it with SIGKILL mid-broadcast).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from bot.app import build_application
from bot.config import Settings
from bot.db import models as m
from bot.db.engine import create_engine, create_sessionmaker
from bot.schedule.notices import enqueue_many
from bot.schedule.pacing import Limits
from bot.testing import db as testdb
from bot.testing.fake_bot_api import FakeBotAPI

TOKEN = "123456:BENCH-TOKEN"
ROOT = str(Path(__file__).resolve().parent.parent)


def settings_for(db_url: str, api_url: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token=TOKEN,
        database_url=db_url,
        bot_api_base_url=api_url,
        bot_api_base_file_url=api_url.replace("/bot", "/file/bot"),
        sweep_interval=1.0,
    )


async def start_app(db_url: str, api_url: str, **options: Any) -> Any:
    app = build_application(settings_for(db_url, api_url), register_commands=False, **options)
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    await app.start()
    return app


async def stop_app(app: Any) -> None:
    d = app.bot_data["services"].dispatcher
    if d is not None:
        d.request_stop()
        await d.stop()
    if app.running:
        await app.stop()
    await app.shutdown()
    if app.post_shutdown is not None:
        await app.post_shutdown(app)


async def seed_network(db_url: str, followers: int, base_tg: int = 10_000) -> int:
    """A network with `followers` followers (varied languages); returns the network id."""
    engine = create_engine(db_url)
    sm = create_sessionmaker(engine)
    async with sm() as s:
        net = m.Network(chat_id=-1009999, name="Bench", slug=f"bench{base_tg}", timezone="Europe/Copenhagen")
        s.add(net)
        await s.flush()
        langs = ["da", "ar", "ti", "en"]
        persons = [
            m.Person(tg_id=base_tg + i, first_name=f"F{i}", language=langs[i % 4], reminder_minutes="1440")
            for i in range(followers)
        ]
        s.add_all(persons)
        await s.flush()
        s.add_all([m.Membership(network_id=net.id, person_id=p.id, is_follower=True) for p in persons])
        coord = m.Person(tg_id=1, first_name="Coordinator", language="da")
        s.add(coord)
        await s.commit()
        net_id = net.id
    await engine.dispose()
    return net_id


async def schedule_broadcast(db_url: str, network_id: int, text: str, progress_chat: int = 1) -> int:
    from bot.domain import broadcasts

    engine = create_engine(db_url)
    sm = create_sessionmaker(engine)
    async with sm() as s:
        net = await s.get(m.Network, network_id)
        author = await s.scalar(select(m.Person).where(m.Person.tg_id == 1))
        assert net is not None and author is not None
        bc = await broadcasts.schedule(
            s,
            network=net,
            author=author,
            text=text,
            language="da",
            due_at=datetime.now(UTC),
            progress_chat_id=progress_chat,
        )
        await s.commit()
        bid = bc.id
    await engine.dispose()
    return bid


def copies(api: FakeBotAPI, text: str) -> dict[int, int]:
    out: dict[int, int] = {}
    for c in api.sent_messages():
        if c.chat_id is not None and c.chat_id > 1 and text in (c.text or ""):
            out[c.chat_id] = out.get(c.chat_id, 0) + 1
    return out


async def wait_until(pred: Any, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        await asyncio.sleep(step)
    return pred()


# ------------------------------------------------------------------------------ measurements


async def bench_limited(db_url: str, n: int) -> dict[str, Any]:
    async with FakeBotAPI(enforce_limits=True, latency=0.05) as api:
        net_id = await seed_network(db_url, n)
        app = await start_app(db_url, api.base_url)
        try:
            text = "Fællesspisning fredag kl. 18"
            await schedule_broadcast(db_url, net_id, text)
            t0 = time.monotonic()
            app.bot_data["services"].dispatcher.wake(0)
            await wait_until(lambda: len(copies(api, text)) >= n, timeout=n / 20 + 30)
            sends = sorted(c.time for c in api.sent_messages() if c.chat_id and c.chat_id > 1)
            elapsed = sends[-1] - sends[0] if len(sends) > 1 else time.monotonic() - t0
            cp = copies(api, text)
            # Let the final progress edit go out.
            await asyncio.sleep(1.5)
            return {
                "delivered": len(cp),
                "duplicates": sum(v - 1 for v in cp.values()),
                "429s": api.count_429,
                "rate": (len(sends) - 1) / elapsed if elapsed > 0 else 0.0,
                "edits": len(api.calls("editMessageText")),
            }
        finally:
            await stop_app(app)


async def bench_reminder_latency(db_url: str, count: int = 60) -> list[float]:
    """Reminders due at spread-out moments in the next seconds; due-to-sent per reminder."""
    async with FakeBotAPI(enforce_limits=True, latency=0.05) as api:
        engine = create_engine(db_url)
        sm = create_sessionmaker(engine)
        async with sm() as s:
            persons = [m.Person(tg_id=50_000 + i, first_name=f"R{i}") for i in range(count)]
            s.add_all(persons)
            await s.commit()
            pids = [(p.id, p.tg_id) for p in persons]
        app = await start_app(db_url, api.base_url)
        from bot.schedule.notices import RENDERERS, Rendered

        async def _render(session: Any, notice: m.Notice, t: Any) -> Rendered:
            return Rendered(f"reminder {notice.id}")

        RENDERERS.setdefault("bench_reminder", _render)
        try:
            start = datetime.now(UTC) + timedelta(seconds=2)
            due: dict[int, datetime] = {}
            async with sm() as s:
                rows = []
                for i, (pid, tg) in enumerate(pids):
                    when = start + timedelta(milliseconds=137 * i)
                    due[tg] = when
                    rows.append(
                        {
                            "kind": "bench_reminder",
                            "dedup_key": f"benchrem:{pid}",
                            "chat_id": tg,
                            "due_at": when,
                            "person_id": pid,
                        }
                    )
                await enqueue_many(s, rows)
                await s.commit()
            # As a feature would after planning: the dispatcher re-arms itself at each next due time.
            app.bot_data["services"].dispatcher.wake(0)
            await wait_until(lambda: len(api.sent_messages()) >= count, timeout=count * 0.137 + 20)
            wall0 = time.time() - time.monotonic()
            lat = []
            for c in api.sent_messages():
                if c.chat_id in due:
                    lat.append((wall0 + c.time) - due[c.chat_id].timestamp())
            return lat
        finally:
            await stop_app(app)
            await engine.dispose()


async def bench_capacity(db_url: str, n: int) -> tuple[int, float, float]:
    """Limits lifted (fake and pacer): how fast the bot itself can go; returns (sent, msg/s, cpu share)."""
    async with FakeBotAPI(enforce_limits=False) as api:
        net_id = await seed_network(db_url, n, base_tg=200_000)
        app = await start_app(db_url, api.base_url, limits=Limits.unlimited())
        try:
            text = "Kapacitetsprøve"
            await schedule_broadcast(db_url, net_id, text)
            cpu0, t0 = time.process_time(), time.monotonic()
            app.bot_data["services"].dispatcher.wake(0)
            await wait_until(lambda: len(copies(api, text)) >= n, timeout=120, step=0.01)
            elapsed = time.monotonic() - t0
            cpu = time.process_time() - cpu0
            return len(copies(api, text)), n / elapsed, cpu / elapsed
        finally:
            await stop_app(app)


STARTUP_CHILD = """
import asyncio, resource, sys, time
sys.path.insert(0, {root!r})
t0 = time.monotonic()
from bench.broadcast import start_app, stop_app
from bot.testing.fake_bot_api import FakeBotAPI
async def main():
    async with FakeBotAPI() as api:
        t1 = time.monotonic()
        app = await start_app({db!r}, api.base_url)
        d = app.bot_data["services"].dispatcher
        await d.run_due()
        nxt = await d.next_due()
        ready = time.monotonic() - t0
        print(ready, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, nxt is not None, len(api.sent_messages()))
        await stop_app(app)
asyncio.run(main())
"""


async def bench_startup(db_url: str, pending: int) -> tuple[float, float]:
    engine = create_engine(db_url)
    sm = create_sessionmaker(engine)
    async with sm() as s:
        later = datetime.now(UTC) + timedelta(days=30)
        rows = [
            {
                "kind": "bench_reminder",
                "dedup_key": f"startup:{i}",
                "chat_id": 300_000 + i,
                "due_at": later + timedelta(seconds=i),
            }
            for i in range(pending)
        ]
        for i in range(0, len(rows), 10_000):
            await enqueue_many(s, rows[i : i + 10_000])
        await s.commit()
        total = await s.scalar(select(func.count()).select_from(m.Notice).where(m.Notice.state == "pending"))
    await engine.dispose()
    assert total is not None and total >= pending
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", STARTUP_CHILD.format(root=ROOT, db=db_url), stdout=subprocess.PIPE
    )
    stdout, _ = await asyncio.wait_for(proc.communicate(), 120)
    out = stdout.decode().split()
    return float(out[0]), float(out[1])


# ------------------------------------------------------------------------------ child mode


async def child(db_url: str, api_url: str, stale: float) -> None:
    """The delivery engine alone (no polling): the test kills this process with SIGKILL."""
    from bot.schedule.dispatcher import Dispatcher

    Dispatcher.stale_after = timedelta(seconds=stale)
    Dispatcher.heartbeat_every = max(stale / 4, 0.2)
    app = await start_app(db_url, api_url)
    print("ready", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await stop_app(app)


async def fresh_db(kind: str) -> str:
    if kind == "postgresql":
        return await testdb.pg_url()
    return await testdb.sqlite_url(Path(tempfile.mkdtemp(prefix="volbot-bench-")))


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    ap.add_argument("--followers", type=int, default=1000)
    ap.add_argument("--pending", type=int, default=100_000)
    ap.add_argument("--child", action="store_true")
    ap.add_argument("--db-url")
    ap.add_argument("--api")
    ap.add_argument("--stale", type=float, default=2.0)
    args = ap.parse_args()
    if args.child:
        await child(args.db_url, args.api, args.stale)
        return
    import logging

    logging.basicConfig(level=logging.WARNING)
    print(f"volbot delivery benchmark ({args.db}, {os.cpu_count()} CPUs)")
    db = await fresh_db(args.db)
    r = await bench_limited(db, args.followers)
    print(f"broadcast to {args.followers:,} followers, Telegram limits enforced by the fake (50 ms latency):")
    print(f"  delivered        {r['delivered']:,}/{args.followers:,}")
    print(f"  duplicates       {r['duplicates']}")
    print(f"  429s received    {r['429s']}")
    print(f"  messages/s       {r['rate']:.2f}  ({r['rate'] / 30:.3f} of 30/s)")
    print(f"  progress edits   {r['edits']}")
    lat = await bench_reminder_latency(await fresh_db(args.db))
    lat.sort()
    p95 = lat[max(0, int(len(lat) * 0.95) - 1)] if lat else float("nan")
    print(
        f"scheduled reminders: due -> sent p50 {statistics.median(lat):.3f} s, p95 {p95:.3f} s (n={len(lat)})"
    )
    sent, rate, cpu = await bench_capacity(await fresh_db(args.db), 3000)
    print(
        f"capacity, limits lifted: {sent:,} sent at {rate:.0f} msg/s (process CPU {cpu:.0%} incl. the fake)"
    )
    startup, mem = await bench_startup(await fresh_db(args.db), args.pending)
    print(
        f"start-up with {args.pending:,} pending notices: {startup:.2f} s to first dispatch, max RSS {mem:.0f} MB"
    )
    _ = resource


if __name__ == "__main__":
    asyncio.run(main())
