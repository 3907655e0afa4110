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
import signal
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


class Tally:
    """How many followers got `text` so far, read incrementally (polling `copies` rescans every call,
    which at 100 polls a second costs the fake's process a good part of its core)."""

    def __init__(self, api: FakeBotAPI, text: str) -> None:
        self.api, self.text, self.seen, self.chats = api, text, 0, set[int]()

    def __call__(self) -> int:
        calls = self.api.all_calls
        for c in calls[self.seen :]:
            ok = c.ok and c.method == "sendMessage" and c.chat_id is not None and c.chat_id > 1
            if ok and c.chat_id is not None and self.text in (c.text or ""):
                self.chats.add(c.chat_id)
        self.seen = len(calls)
        return len(self.chats)


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
            tally = Tally(api, text)
            await wait_until(lambda: tally() >= n, timeout=n / 20 + 30)
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


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def spawn_child(db_url: str, api_url: str, *extra: str) -> asyncio.subprocess.Process:
    """The bot's delivery engine in its own process (`--child`); returns once it is ready."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(ROOT) / "bench" / "broadcast.py"),
        "--child",
        "--db-url",
        db_url,
        "--api",
        api_url,
        *extra,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), 60)
    if b"ready" not in line:
        raise SystemExit("the bot child did not start")
    return proc


async def bench_capacity(db_url: str, n: int, profile: str | None = None) -> dict[str, float]:
    """Limits lifted (fake and pacer): how fast the bot itself can go.

    The bot runs in a child process and the fake in this one, so the bot's figures (rate, CPU) are
    its own: the fake's work happens on the other core. Returns sent, msg/s (first to last message),
    the child's CPU share over that time and its CPU milliseconds per message."""
    async with FakeBotAPI(enforce_limits=False) as api:
        net_id = await seed_network(db_url, n, base_tg=200_000)
        extra = ["--unlimited"] + (["--profile", profile] if profile else [])
        proc = await spawn_child(db_url, api.base_url, *extra)
        try:
            text = "Kapacitetsprøve"
            t_sched = time.monotonic()
            await schedule_broadcast(db_url, net_id, text)
            cpu_start = _cpu_seconds(proc.pid)
            tally = Tally(api, text)
            await wait_until(lambda: tally() >= 1, timeout=30, step=0.002)
            cpu0, t0 = _cpu_seconds(proc.pid), time.monotonic()
            await wait_until(lambda: tally() >= n, timeout=120, step=0.01)
            cpu1, t1 = _cpu_seconds(proc.pid), time.monotonic()
            sends = sorted(
                c.time for c in api.sent_messages() if c.chat_id and c.chat_id > 1 and text in (c.text or "")
            )
            sent = len(copies(api, text))
            span = sends[-1] - sends[0] if len(sends) > 1 else t1 - t0
            return {
                "sent": sent,
                "rate": (len(sends) - 1) / span if span > 0 else 0.0,
                "cpu": (cpu1 - cpu0) / (t1 - t0),
                "cpu_ms": 1000 * (cpu1 - cpu_start) / max(sent, 1),
                "wall": t1 - t_sched,
            }
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                proc.kill()
                await proc.wait()


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


async def child(db_url: str, api_url: str, stale: float, unlimited: bool, profile: str | None) -> None:
    """The delivery engine alone (no polling): the test kills this process with SIGKILL; SIGTERM
    stops it cleanly (and writes the profile, with `--profile`)."""
    from bot.schedule.dispatcher import Dispatcher

    Dispatcher.stale_after = timedelta(seconds=stale)
    Dispatcher.heartbeat_every = max(stale / 4, 0.2)
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
    app = await start_app(db_url, api_url, **({"limits": Limits.unlimited()} if unlimited else {}))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print("ready", flush=True)
    if prof is not None:
        prof.enable()
    try:
        await stop.wait()
    finally:
        if prof is not None and profile:
            prof.disable()
            prof.dump_stats(profile)
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
    ap.add_argument("--unlimited", action="store_true", help="child: limits lifted (capacity)")
    ap.add_argument("--profile", help="child: write a cProfile here; else: profile the capacity run")
    ap.add_argument("--only", choices=["limited", "latency", "capacity", "startup"], action="append")
    args = ap.parse_args()
    if args.child:
        await child(args.db_url, args.api, args.stale, args.unlimited, args.profile)
        return
    import logging

    logging.basicConfig(level=logging.WARNING)
    print(f"volbot delivery benchmark ({args.db}, {os.cpu_count()} CPUs)")

    def want(part: str) -> bool:
        return not args.only or part in args.only

    if want("limited"):
        r = await bench_limited(await fresh_db(args.db), args.followers)
        print(
            f"broadcast to {args.followers:,} followers, Telegram limits enforced by the fake (50 ms latency):"
        )
        print(f"  delivered        {r['delivered']:,}/{args.followers:,}")
        print(f"  duplicates       {r['duplicates']}")
        print(f"  429s received    {r['429s']}")
        print(f"  messages/s       {r['rate']:.2f}  ({r['rate'] / 30:.3f} of 30/s)")
        print(f"  progress edits   {r['edits']}")
    if want("latency"):
        lat = await bench_reminder_latency(await fresh_db(args.db))
        lat.sort()
        p95 = lat[max(0, int(len(lat) * 0.95) - 1)] if lat else float("nan")
        print(
            f"scheduled reminders: due -> sent p50 {statistics.median(lat):.3f} s, p95 {p95:.3f} s (n={len(lat)})"
        )
    if want("capacity"):
        c = await bench_capacity(await fresh_db(args.db), 3000, args.profile)
        print(
            f"capacity, limits lifted (the bot in its own process, the fake in another): {c['sent']:,} sent"
            f" at {c['rate']:.0f} msg/s, bot process CPU {c['cpu']:.0%},"
            f" {c['cpu_ms']:.2f} ms CPU per message ({c['wall']:.1f} s from scheduling to the last)"
        )
    if want("startup"):
        startup, mem = await bench_startup(await fresh_db(args.db), args.pending)
        print(
            f"start-up with {args.pending:,} pending notices: {startup:.2f} s to first dispatch,"
            f" max RSS {mem:.0f} MB"
        )


if __name__ == "__main__":
    asyncio.run(main())
