"""Failover drill: two real `volbot run` processes in webhook mode on one PostgreSQL; a coordinator
sends /broadcast to N followers; one instance is killed with SIGKILL in the middle of it. The
survivor takes back the dead instance's claims once they go stale and finishes the broadcast.

    .venv/bin/python bench/drill.py [--followers 600] [--kill-at 0.3] [--latency 0.05]

Prints how many followers got the message 0 times (lost: goal 0) and more than once (duplicated:
only messages that were in flight when the process died may repeat — Telegram had them, the dead
process had not recorded it yet), the messages/s of the two instances together while both ran
(the fake enforces Telegram's limits: they share one budget, so together ~29/s and no 429), and
how long the survivor took to take over. Exit status 1 when anything was lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from sqlalchemy import insert, select

from bot.db import models as m
from bot.db.engine import create_engine, create_sessionmaker
from bot.domain.people import setup_network
from bot.schedule.dispatcher import Dispatcher
from bot.testing import db as testdb
from bot.testing.fake_bot_api import FakeBotAPI, FakeUser, group_chat

TOKEN = "123456:DRILL-TOKEN"
SECRET = "drill-secret-0123456789abcdef"
FIRST_FOLLOWER = 2_000_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def seed(db_url: str, group_id: int, admin_id: int, followers: int) -> None:
    engine = create_engine(db_url)
    try:
        async with create_sessionmaker(engine)() as s:
            network, _ = await setup_network(s, group_id, "Drill", "Europe/Copenhagen", "en")
            now = m.utcnow()
            base = {"reminder_minutes": "1440", "reachable": True, "created_at": now, "language": "en"}
            people = [{"tg_id": FIRST_FOLLOWER + i, "first_name": f"F{i}", **base} for i in range(followers)]
            people.append({"tg_id": admin_id, "first_name": "Coordinator", **base})
            for i in range(0, len(people), 500):
                await s.execute(insert(m.Person), people[i : i + 500])
            ids = (await s.scalars(select(m.Person.id).where(m.Person.tg_id >= FIRST_FOLLOWER))).all()
            rows = [
                {
                    "network_id": network.id,
                    "person_id": pid,
                    "is_member": False,
                    "is_coordinator": False,
                    "is_follower": True,
                    "followed_at": now,
                    "created_at": now,
                }
                for pid in ids
            ]
            for i in range(0, len(rows), 500):
                await s.execute(insert(m.Membership), rows[i : i + 500])
            await s.commit()
    finally:
        await engine.dispose()


async def start_instance(name: str, db_url: str, api: FakeBotAPI) -> tuple[asyncio.subprocess.Process, int]:
    port = free_port()
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "DATABASE_URL": db_url,
        "BOT_API_BASE_URL": api.base_url,
        "BOT_API_BASE_FILE_URL": api.base_file_url,
        "PORT": str(port),
        "WEBHOOK_URL": f"http://127.0.0.1:{port}/telegram/webhook",
        "WEBHOOK_SECRET": SECRET,
        "SWEEP_INTERVAL": "1",
        "LOG_FORMAT": "kv",
        "LOG_LEVEL": "WARNING",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=env, stderr=asyncio.subprocess.DEVNULL
    )
    async with httpx.AsyncClient() as client:
        for _ in range(600):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return proc, port
            if proc.returncode is not None:
                raise SystemExit(f"instance {name} exited with {proc.returncode}")
            await asyncio.sleep(0.05)
    raise SystemExit(f"instance {name} did not become healthy")


async def drill(followers: int, kill_at: float, latency: float, timeout: float, limits: bool) -> int:
    if not await testdb.pg_available():
        print("PostgreSQL at 127.0.0.1:5432 is not reachable; the drill needs it", file=sys.stderr)
        return 2
    db_url = await testdb.pg_url()
    procs: list[asyncio.subprocess.Process] = []
    try:
        async with FakeBotAPI(latency=latency, enforce_limits=limits) as api:
            admin = FakeUser(id=1_000_001, first_name="Coordinator", language_code="en")
            group = group_chat(-100_424_242, "Drill network")
            api.set_admins(group.id, [admin.id])
            await seed(db_url, group.id, admin.id, followers)
            a, _ = await start_instance("A", db_url, api)
            b, _ = await start_instance("B", db_url, api)
            procs = [a, b]

            def follower_sends() -> list[float]:
                return [
                    c.time
                    for c in api.sent_messages()
                    if c.chat_id is not None and c.chat_id >= FIRST_FOLLOWER
                ]

            def delivered() -> Counter[int]:
                return Counter(
                    c.chat_id
                    for c in api.sent_messages()
                    if c.chat_id is not None and c.chat_id >= FIRST_FOLLOWER
                )

            t0 = time.monotonic()
            api.inject_message(admin, group, "/broadcast Failover drill: this message must arrive once.")
            target = int(followers * kill_at)
            while len(delivered()) < target:
                if time.monotonic() - t0 > timeout:
                    raise SystemExit("the broadcast did not get going")
                await asyncio.sleep(0.01)
            engine = create_engine(db_url)
            try:
                async with engine.connect() as conn:
                    claimed = (
                        await conn.execute(
                            select(m.Notice.id, m.Notice.chat_id, m.Notice.claimed_by).where(
                                m.Notice.state == "sending"
                            )
                        )
                    ).all()
                    in_flight = len(claimed)
            finally:
                await engine.dispose()
            a.send_signal(signal.SIGKILL)
            await a.wait()
            t_kill = time.monotonic()
            killed_after = len(delivered())
            both = sorted(follower_sends())
            both_rate = (len(both) - 1) / (both[-1] - both[0]) if len(both) > 1 else 0.0
            print(f"killed instance A (SIGKILL) after {killed_after} of {followers} deliveries")
            # The survivor goes on with its own claims; the dead one's come back once stale.
            while len(delivered()) < followers and time.monotonic() - t0 < timeout:
                await asyncio.sleep(0.05)
            t_done = time.monotonic()
            await asyncio.sleep(1.0)  # anything late would show up as a duplicate
            counts = delivered()
            # The rows the dead instance held at the kill: now recorded by the survivor.
            engine = create_engine(db_url)
            try:
                async with engine.connect() as conn:
                    now_by = dict(
                        (
                            await conn.execute(
                                select(m.Notice.id, m.Notice.claimed_by).where(
                                    m.Notice.id.in_([r.id for r in claimed] or [0])
                                )
                            )
                        ).all()
                    )
            finally:
                await engine.dispose()
            taken_back = {r.chat_id for r in claimed if now_by.get(r.id) != r.claimed_by}
            back_times = [c.time for c in api.sent_messages() if c.chat_id in taken_back and c.time > t_kill]
            failover = max(back_times) - t_kill if back_times else float("nan")
            first_back = min(back_times) - t_kill if back_times else float("nan")
        lost = followers - len(counts)
        duplicated = sum(1 for n in counts.values() if n > 1)
        print(f"followers: {followers}")
        print(
            f"delivered: {len(counts)} in {t_done - t0:.1f} s (survivor finished {t_done - t_kill:.1f} s after the kill)"
        )
        print(f"rows claimed and not yet recorded at the kill (both instances): {in_flight}")
        print(
            f"both instances together before the kill: {both_rate:.1f} messages/s"
            f" (Telegram's limit ~30/s{', enforced by the fake' if limits else ', not enforced'});"
            f" 429s: {api.count_429}"
        )
        print(
            f"failover: the dead instance's {len(taken_back)} claimed rows went out"
            f" {first_back:.1f}–{failover:.1f} s after the kill (stale after"
            f" {Dispatcher.stale_after.total_seconds():.0f} s, heartbeat every {Dispatcher.heartbeat_every:.0f} s)"
        )
        print(f"lost: {lost}")
        print(f"duplicated: {duplicated}")
        return 1 if lost else 0
    finally:
        for p in procs:
            if p.returncode is None:
                p.send_signal(signal.SIGTERM)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(p.wait(), 30)
                if p.returncode is None:
                    p.kill()
                    await p.wait()
        await testdb.drop_pg(db_url)
        await testdb.drop_templates()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--followers", type=int, default=600)
    parser.add_argument("--kill-at", type=float, default=0.3, help="fraction delivered when A is killed")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per Bot API call")
    parser.add_argument("--timeout", type=float, default=180.0)
    parser.add_argument(
        "--no-limits", action="store_true", help="the fake does not enforce Telegram's limits"
    )
    args = parser.parse_args()
    return asyncio.run(drill(args.followers, args.kill_at, args.latency, args.timeout, not args.no_limits))


if __name__ == "__main__":
    sys.exit(main())
