"""Outage drills, each a broadcast to 600 followers on PostgreSQL with Telegram's limits enforced
by the local Bot API fake:

- database: at ~200 sent, the TCP proxy between the bot and PostgreSQL is cut for 20 s (the bot
  sees PostgreSQL vanish; the shared PostgreSQL service is not touched), then restored;
- telegram: at ~200 sent, the link between the bot and the Bot API fake (`bot.testing.outage`)
  refuses connections (`--mode refuse`), answers every request 502 (`--mode 502`) or answers nothing
  at all, so that requests time out (`--mode blackhole`), for 60 s.

    .venv/bin/python bench/outage.py [--only database|telegram] [--mode refuse|502|blackhole|all]
        [--followers 600] [--cut-at 200] [--seconds 20] [--telegram-seconds 60] [--instances 1]

Prints: copies lost (goal 0), duplicated (goal: at most the messages in flight), /healthz during the
outage, the time from recovery to the next delivery (the bot resumes by itself); for Telegram also
the requests per second the bot made while it was away (goal: a few at most) and how many times the
log said it (goal: once each way).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from broadcast import copies, schedule_broadcast, seed_network, stop_app, wait_until

from bot.app import build_application
from bot.config import Settings
from bot.db.outage import monitor_of
from bot.testing import db as testdb
from bot.testing.fake_bot_api import FakeBotAPI
from bot.testing.outage import TelegramLink
from bot.testing.tcp_proxy import TcpProxy
from bot.web.server import create_web_app

TEXT = "Fællesspisning fredag kl. 18"


async def start(db_url: str, api: FakeBotAPI | TelegramLink) -> Any:
    # The production sweep interval (30 s): a quick resume comes from the outage monitor, not a sweep.
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        bot_token="123456:BENCH-TOKEN",
        database_url=db_url,
        bot_api_base_url=api.base_url,
        bot_api_base_file_url=api.base_file_url,
    )
    app = build_application(settings, register_commands=False)
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    await app.start()
    return app


async def drill(followers: int, cut_at: int, seconds: float, instances: int = 1) -> dict[str, Any]:
    url = await testdb.pg_url()
    try:
        async with FakeBotAPI(enforce_limits=True, latency=0.05) as api, TcpProxy() as proxy:
            net_id = await seed_network(url, followers)
            # Every instance reaches PostgreSQL through the same proxy: the cut takes it from all.
            apps = [await start(proxy.url_for(url), api) for _ in range(instances)]
            app = apps[0]
            services = app.bot_data["services"]
            monitor = monitor_of(services)
            web = create_web_app(services)
            try:
                await schedule_broadcast(url, net_id, TEXT)
                for each in apps:
                    each.bot_data["services"].dispatcher.wake(0)
                await wait_until(lambda: len(copies(api, TEXT)) >= cut_at, timeout=120)
                proxy.cut()
                t_cut = time.monotonic()
                at_cut = len(copies(api, TEXT))
                health: list[tuple[int, str]] = []
                async with httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=web), base_url="http://b"
                ) as c:
                    await asyncio.sleep(seconds / 2)
                    r = await c.get("/healthz")
                    health.append((r.status_code, str(r.json().get("database"))))
                    await asyncio.sleep(seconds / 2)
                    during = len(copies(api, TEXT))
                    proxy.restore()
                    t_rec = time.monotonic()
                    done = await wait_until(
                        lambda: len(copies(api, TEXT)) >= followers, timeout=followers / 20 + 60
                    )
                    r = await c.get("/healthz")
                    health.append((r.status_code, str(r.json().get("database"))))
                t_done = time.monotonic()
                after = [
                    c.time for c in api.sent_messages() if c.chat_id and c.chat_id > 1 and c.time > t_rec
                ]
                cp = copies(api, TEXT)
                return {
                    "at_cut": at_cut,
                    "during": during,
                    "delivered": len(cp),
                    "lost": followers - len(cp),
                    "duplicated": sum(v - 1 for v in cp.values()),
                    "resume_s": (min(after) - t_rec) if after else None,
                    "finish_s": t_done - t_rec,
                    "complete": done,
                    "health": health,
                    "outages": monitor.outages,
                    "429s": api.count_429,
                    "cut_s": t_rec - t_cut,
                    "instances": instances,
                }
            finally:
                for each in apps:
                    await stop_app(each)
    finally:
        await testdb.drop_pg(url)


class _Said(logging.Handler):
    """Every log record at WARNING or above while the drill runs."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def telegram_drill(followers: int, cut_at: int, seconds: float, mode: str) -> dict[str, Any]:
    url = await testdb.pg_url()
    said = _Said()
    logging.getLogger().addHandler(said)
    try:
        async with FakeBotAPI(enforce_limits=True, latency=0.05) as api:
            link = await TelegramLink(api).start()
            try:
                net_id = await seed_network(url, followers)
                app = await start(url, link)
                services = app.bot_data["services"]
                gate = services.outbox.gate
                web = create_web_app(services)
                try:
                    await schedule_broadcast(url, net_id, TEXT)
                    services.dispatcher.wake(0)
                    await wait_until(lambda: len(copies(api, TEXT)) >= cut_at, timeout=120)
                    said.records.clear()
                    probes0, held0 = gate.probes, services.outbox.stats["held_by_outage"]
                    await link.cut(mode)
                    t_cut = time.monotonic()
                    at_cut = len(copies(api, TEXT))
                    async with httpx.AsyncClient(
                        transport=httpx.ASGITransport(app=web), base_url="http://b"
                    ) as c:
                        await asyncio.sleep(seconds / 2)
                        r = await c.get("/healthz")
                        health = [(r.status_code, str(r.json().get("bot_api")))]
                        await asyncio.sleep(seconds / 2)
                        during = len(copies(api, TEXT))
                        attempts = link.attempts
                        probes, held = gate.probes - probes0, services.outbox.stats["held_by_outage"] - held0
                        await link.restore()
                        t_rec = time.monotonic()
                        done = await wait_until(
                            lambda: len(copies(api, TEXT)) >= followers, timeout=followers / 20 + 60
                        )
                        r = await c.get("/healthz")
                        health.append((r.status_code, str(r.json().get("bot_api"))))
                    t_done = time.monotonic()
                    after = [
                        c.time for c in api.sent_messages() if c.chat_id and c.chat_id > 1 and c.time > t_rec
                    ]
                    cp = copies(api, TEXT)
                    gate_said = [r.getMessage() for r in said.records if r.name == "bot.schedule.gate"]
                    return {
                        "mode": mode,
                        "at_cut": at_cut,
                        "during": during,
                        "delivered": len(cp),
                        "lost": followers - len(cp),
                        "duplicated": sum(v - 1 for v in cp.values()),
                        # requests the bot made while cut: probes, and requests that failed meanwhile
                        "requests": probes + held,
                        "attempts": attempts,
                        "cut_s": t_rec - t_cut,
                        "resume_s": (min(after) - t_rec) if after else None,
                        "finish_s": t_done - t_rec,
                        "complete": done,
                        "health": health,
                        "outages": gate.outages,
                        "said_down": sum(1 for m in gate_said if "unreachable" in m),
                        "said_up": sum(1 for m in gate_said if "again" in m),
                        "said_other": len(said.records) - len(gate_said),
                        "said_by": Counter(
                            f"{r.name}: {r.getMessage()[:60]}"
                            for r in said.records
                            if r.name != "bot.schedule.gate"
                        ).most_common(3),
                        "429s": api.count_429,
                    }
                finally:
                    await stop_app(app)
            finally:
                await link.stop()
    finally:
        logging.getLogger().removeHandler(said)
        await testdb.drop_pg(url)


def print_telegram(r: dict[str, Any], followers: int) -> None:
    how = {
        "refuse": "refusing connections",
        "502": "answering every request 502",
        "blackhole": "answering nothing (requests time out)",
    }[r["mode"]]
    print(f"Telegram outage drill: broadcast to {followers} followers, the Bot API {how}")
    print(
        f"  cut at {r['at_cut']} sent, for {r['cut_s']:.1f} s; {r['during'] - r['at_cut']} more delivered meanwhile (in flight)"
    )
    print(
        f"  requests while cut: {r['requests']} ({r['requests'] / r['cut_s']:.2f}/s; goal: a few at most);"
        f" reaching the link: {r['attempts']}"
    )
    print(f"  /healthz during: {r['health'][0][0]} ({r['health'][0][1]}); after: {r['health'][1][0]}")
    resume = "never" if r["resume_s"] is None else f"{r['resume_s']:.2f} s"
    print(
        f"  from recovery to the next delivery: {resume}; all delivered {r['finish_s']:.1f} s after recovery"
    )
    print(
        f"  delivered: {r['delivered']}; lost: {r['lost']} (goal 0); duplicated: {r['duplicated']}; 429s: {r['429s']}"
    )
    print(
        f"  the log said it: {r['said_down']}x unreachable, {r['said_up']}x back (goal 1 each);"
        f" other warnings meanwhile: {r['said_other']}; outages counted: {r['outages']}"
    )
    for line, n in r["said_by"]:
        print(f"    {n}x {line}")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--followers", type=int, default=600)
    parser.add_argument("--cut-at", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--telegram-seconds", type=float, default=60.0)
    parser.add_argument("--mode", choices=["refuse", "502", "blackhole", "all"], default="refuse")
    parser.add_argument("--only", choices=["database", "telegram"])
    parser.add_argument("--instances", type=int, default=1, help="bot instances in the database drill")
    args = parser.parse_args()
    if not await testdb.pg_available():
        print("PostgreSQL at 127.0.0.1:5432 is not reachable; this drill needs it")
        return
    if args.only != "telegram":
        print_database(await drill(args.followers, args.cut_at, args.seconds, args.instances), args.followers)
    if args.only != "database":
        for mode in ["refuse", "502", "blackhole"] if args.mode == "all" else [args.mode]:
            r = await telegram_drill(args.followers, args.cut_at, args.telegram_seconds, mode)
            print_telegram(r, args.followers)


def print_database(r: dict[str, Any], followers: int) -> None:
    print(
        f"database outage drill: broadcast to {followers} followers on PostgreSQL through a TCP proxy,"
        f" {r['instances']} instance(s)"
    )
    print(
        f"  proxy cut at {r['at_cut']} sent, for {r['cut_s']:.1f} s; {r['during'] - r['at_cut']} more sent meanwhile (in flight)"
    )
    print(
        f"  /healthz during the outage: {r['health'][0][0]} (database: {r['health'][0][1]}); after: {r['health'][1][0]}"
    )
    resume = "never" if r["resume_s"] is None else f"{r['resume_s']:.2f} s"
    print(
        f"  from recovery to the next delivery: {resume}; all delivered {r['finish_s']:.1f} s after recovery"
    )
    print(
        f"  delivered: {r['delivered']}; lost: {r['lost']} (goal 0); duplicated: {r['duplicated']} (goal: in flight only)"
    )
    print(f"  outages seen by the bot: {r['outages']}; 429s: {r['429s']}")


if __name__ == "__main__":
    asyncio.run(main())
