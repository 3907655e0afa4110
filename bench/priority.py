"""Priority drill: lanes and turns under load, against the local Bot API fake with Telegram's limits.

Network A broadcasts to its 1,500 followers and announces an event to them (3,000 bulk messages);
2 s later network B broadcasts to its 150; a 15-minute reminder falls due 45 s in; meanwhile six
group members send /events in A's group and four people send /events privately, every 3-5 s.

    .venv/bin/python bench/priority.py [--db sqlite|postgresql] [--followers 1500] [--b-followers 150]

Prints the reminder's lateness (goal <= 3 s), B's broadcast time (goal <= 3 x 150/15 + 10 = 40 s),
reply latency p50/p95 (goal p95 <= 2 s), the 429s the bot received (0), and messages lost (0),
plus the busiest second and the busiest minute in A's group as the fake counted them.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.db import models as m
from bot.domain import broadcasts
from bot.schedule.notices import enqueue, enqueue_many
from bot.schedule.pacing import Limits
from bot.testing import db as testdb
from bot.testing.fake_bot_api import FakeBotAPI, FakeUser, group_chat, private_chat
from bot.testing.harness import BotHarness
from bot.testing.receiver import busiest, replied_to

GROUP_A, GROUP_B = -100_100, -100_200
COORD = 1
REMINDED = 9_000


async def seed(h: BotHarness, n_a: int, n_b: int) -> dict[str, Any]:
    async with h.services.sessionmaker() as s:
        a = m.Network(chat_id=GROUP_A, name="Netværk A", slug="neta", language="da")
        b = m.Network(chat_id=GROUP_B, name="Netværk B", slug="netb", language="da")
        coord = m.Person(tg_id=COORD, first_name="Koordinator", language="da")
        reminded = m.Person(tg_id=REMINDED, first_name="Påmindet", language="da", reminder_minutes="15")
        s.add_all([a, b, coord, reminded])
        await s.flush()
        langs = ["da", "ar", "ti", "en"]
        fa = [m.Person(tg_id=100_000 + i, first_name=f"A{i}", language=langs[i % 4]) for i in range(n_a)]
        fb = [m.Person(tg_id=200_000 + i, first_name=f"B{i}", language=langs[i % 4]) for i in range(n_b)]
        members = [m.Person(tg_id=300 + i, first_name=f"M{i}", language="da") for i in range(6)]
        s.add_all(fa + fb + members)
        await s.flush()
        s.add_all([m.Membership(network_id=a.id, person_id=p.id, is_follower=True) for p in fa])
        s.add_all([m.Membership(network_id=b.id, person_id=p.id, is_follower=True) for p in fb])
        s.add_all([m.Membership(network_id=a.id, person_id=p.id, is_member=True) for p in members])
        s.add(m.Membership(network_id=a.id, person_id=coord.id, is_member=True, is_coordinator=True))
        s.add(m.Membership(network_id=b.id, person_id=coord.id, is_member=True, is_coordinator=True))
        now = datetime.now(UTC)
        party = m.Event(
            network_id=a.id, title="Fællesspisning", starts_at=now + timedelta(days=3), language="da"
        )
        soon = m.Event(
            network_id=a.id,
            title="Lektiecafé",
            starts_at=now + timedelta(minutes=15, seconds=45),
            language="da",
        )
        s.add_all([party, soon])
        await s.commit()
        return {
            "a": a.id,
            "b": b.id,
            "coord": coord.id,
            "reminded": reminded.id,
            "party": party.id,
            "soon": soon.id,
            "fa": [(p.id, p.tg_id) for p in fa],
        }


async def start_broadcast(h: BotHarness, network_id: int, author_id: int, text: str) -> None:
    async with h.services.sessionmaker() as s:
        net = await s.get(m.Network, network_id)
        author = await s.get(m.Person, author_id)
        assert net is not None and author is not None
        await broadcasts.schedule(
            s,
            network=net,
            author=author,
            text=text,
            language="da",
            due_at=datetime.now(UTC),
            progress_chat_id=COORD,
        )
        await s.commit()
    assert h.services.dispatcher is not None
    h.services.dispatcher.wake()


async def run(db_url: str, n_a: int, n_b: int, verbose: bool = False) -> dict[str, Any]:
    api = FakeBotAPI(enforce_limits=True, latency=0.05)
    async with api, BotHarness(db_url, api=api, dispatch=True, limits=Limits()) as h:
        h.services.clock = lambda: datetime.now(UTC)
        ids = await seed(h, n_a, n_b)
        t0 = time.monotonic()
        reminder_due = t0 + 45.0
        async with h.services.sessionmaker() as s:
            await enqueue(
                s,
                kind="event_reminder",
                dedup_key="bench:reminder",
                chat_id=REMINDED,
                due_at=datetime.now(UTC) + timedelta(seconds=45),
                person_id=ids["reminded"],
                network_id=ids["a"],
                ref_id=ids["soon"],
            )
            await enqueue_many(
                s,
                [
                    {
                        "kind": "event_new",
                        "dedup_key": f"bench:evnew:{pid}",
                        "chat_id": tg,
                        "due_at": datetime.now(UTC),
                        "person_id": pid,
                        "network_id": ids["a"],
                        "ref_id": ids["party"],
                    }
                    for pid, tg in ids["fa"]
                ],
            )
            await s.commit()
        await start_broadcast(h, ids["a"], ids["coord"], "Rundsendelse fra A")

        stop = asyncio.Event()
        asked: list[tuple[int, int, int, float]] = []  # (chat, user, message id, time)
        group = group_chat(GROUP_A, "Netværk A")
        talkers = [(FakeUser(id=300 + i, first_name=f"M{i}"), group) for i in range(6)]
        loners = [FakeUser(id=500 + i, first_name=f"P{i}", language_code="da") for i in range(4)]
        talkers += [(u, private_chat(u)) for u in loners]

        async def talk(user: FakeUser, chat: Any) -> None:
            await asyncio.sleep(random.uniform(0, 3))
            while not stop.is_set():
                h._injected += 1
                msg = api.inject_message(user, chat, "/events")
                asked.append((chat.id, user.id, msg["message_id"], time.monotonic()))
                await asyncio.sleep(random.uniform(3, 5))

        tasks = [asyncio.create_task(talk(u, c)) for u, c in talkers]
        await asyncio.sleep(2.0)
        tb = time.monotonic()
        await start_broadcast(h, ids["b"], ids["coord"], "Rundsendelse fra B")

        def sends(pred: Any) -> list[Any]:
            return [c for c in api.sent_messages() if c.ok and pred(c)]

        def a_bcast() -> list[Any]:
            return sends(lambda c: "Rundsendelse fra A" in (c.text or "") and c.chat_id >= 100_000)

        def b_bcast() -> list[Any]:
            return sends(lambda c: "Rundsendelse fra B" in (c.text or "") and c.chat_id >= 200_000)

        def a_new() -> list[Any]:
            return sends(lambda c: 100_000 <= c.chat_id < 200_000 and "Fællesspisning" in (c.text or ""))

        def reminder() -> list[Any]:
            return sends(lambda c: c.chat_id == REMINDED)

        deadline = t0 + 600
        while time.monotonic() < deadline:
            if len(a_bcast()) >= n_a and len(b_bcast()) >= n_b and len(a_new()) >= n_a and reminder():
                break
            await api.wait_change(1.0)
            if verbose:
                print(len(a_bcast()), len(a_new()), len(b_bcast()), len(reminder()), flush=True)
        done = time.monotonic()
        stop.set()
        await asyncio.gather(*tasks)
        await asyncio.sleep(3.0)  # let the last answers out

        latencies = []
        unanswered = 0
        privately = 0
        for chat_id, user_id, mid, at in asked:
            got = []
            if chat_id < 0:
                got = [c for c in api.sent_messages(chat_id) if replied_to(c) == mid]
            if not got:
                # A private question, or a group's answer sent privately (the group was busy).
                got = [c for c in api.sent_messages(user_id) if c.time >= at][:1]
                privately += bool(got) and chat_id < 0
            if got:
                latencies.append(got[0].time - at)
            else:
                unanswered += 1
        b_times = [c.time for c in b_bcast()]
        rem = reminder()
        per_chat = Counter(c.chat_id for c in a_bcast() + a_new() + b_bcast())
        group_sends = [c.time for c in api.sent_messages(GROUP_A)]
        all_sends = [
            c.time for c in api.all_calls if c.method in ("sendMessage", "editMessageText", "sendDocument")
        ]
        outbox = h.services.outbox
        return {
            "elapsed": done - t0,
            "reminder_late": (rem[0].time - reminder_due) if rem else None,
            "b_time": (max(b_times) - tb) if b_times else None,
            "b_done": len(b_times),
            "replies": len(latencies),
            "unanswered": unanswered,
            "privately": privately,
            "p50": statistics.median(latencies) if latencies else None,
            "p95": statistics.quantiles(latencies, n=20)[-1] if len(latencies) >= 20 else None,
            "429s": api.count_429,
            "lost": (n_a - len(a_bcast()))
            + (n_a - len(a_new()))
            + (n_b - len(b_bcast()))
            + (0 if rem else 1),
            "dups": sum(max(0, v - (2 if 100_000 <= chat < 200_000 else 1)) for chat, v in per_chat.items()),
            "busiest_second": busiest(all_sends, 1.0),
            "group_minute": busiest(group_sends, 60.0),
            "granted": dict(outbox.pacer.stats.granted) if outbox else {},
        }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    ap.add_argument("--followers", type=int, default=1500)
    ap.add_argument("--b-followers", type=int, default=150)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    if args.db == "postgresql":
        url = await testdb.pg_url()
    else:
        url = f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/priority.db"
    r = await run(url, args.followers, args.b_followers, args.verbose)
    goal_b = 3 * args.b_followers / 15 + 10
    print(f"volbot priority drill ({args.db}): A {args.followers} + {args.followers}, B {args.b_followers}")
    print(f"  all delivered after      {r['elapsed']:.1f} s")
    late = r["reminder_late"]
    print(
        f"  reminder lateness        {late:.2f} s  (goal <= 3 s)"
        if late is not None
        else "  reminder NOT SENT"
    )
    bt = r["b_time"]
    print(
        f"  B's broadcast time       {bt:.1f} s for {r['b_done']}  (goal <= {goal_b:.0f} s)"
        if bt is not None
        else "  B's broadcast NOT SENT"
    )
    print(
        f"  replies                  {r['replies']} answered ({r['privately']} group questions privately), "
        f"{r['unanswered']} unanswered"
    )
    p50, p95 = r["p50"], r["p95"]
    if p50 is not None:
        print(f"  reply latency            p50 {p50:.2f} s, p95 {(p95 or 0):.2f} s  (goal p95 <= 2 s)")
    print(f"  429s received            {r['429s']}")
    print(f"  lost                     {r['lost']}")
    print(f"  duplicates               {r['dups']}")
    print(f"  busiest second (fake)    {r['busiest_second']}  (Telegram: 30)")
    print(f"  busiest minute, group A  {r['group_minute']}  (Telegram: 20)")
    print(f"  grants by lane           {r['granted']}")


if __name__ == "__main__":
    asyncio.run(main())
