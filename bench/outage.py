"""Database outage drill: a broadcast to 600 followers on PostgreSQL through a TCP proxy; at ~200
sent the proxy is cut for 20 s (the bot sees PostgreSQL vanish; the shared PostgreSQL service is not
touched), then restored. Telegram's limits are enforced by the local Bot API fake.

    .venv/bin/python bench/outage.py [--followers 600] [--cut-at 200] [--seconds 20]

Prints: copies lost (goal 0), duplicated (goal: at most the messages in flight), /healthz during the
outage, and the time from recovery to the next delivery (the bot resumes by itself).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
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
from bot.testing.tcp_proxy import TcpProxy
from bot.web.server import create_web_app

TEXT = "Fællesspisning fredag kl. 18"


async def start(db_url: str, api: FakeBotAPI) -> Any:
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


async def drill(followers: int, cut_at: int, seconds: float) -> dict[str, Any]:
    url = await testdb.pg_url()
    try:
        async with FakeBotAPI(enforce_limits=True, latency=0.05) as api, TcpProxy() as proxy:
            net_id = await seed_network(url, followers)
            app = await start(proxy.url_for(url), api)
            services = app.bot_data["services"]
            monitor = monitor_of(services)
            web = create_web_app(services)
            try:
                await schedule_broadcast(url, net_id, TEXT)
                services.dispatcher.wake(0)
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
                }
            finally:
                await stop_app(app)
    finally:
        await testdb.drop_pg(url)


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--followers", type=int, default=600)
    parser.add_argument("--cut-at", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    if not await testdb.pg_available():
        print("PostgreSQL at 127.0.0.1:5432 is not reachable; this drill needs it")
        return
    r = await drill(args.followers, args.cut_at, args.seconds)
    print(f"database outage drill: broadcast to {args.followers} followers on PostgreSQL through a TCP proxy")
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
