"""Group storm: one busy group, against the local Bot API fake with Telegram's limits enforced.

Within 10 s, in one group: 300 members press the buttons of a vote, 40 members send /events, and
20 members press "Going" on an event's card. Telegram allows the group 20 messages (edits
included) a minute; answers that would wait longer than 15 s go to the person privately.

    .venv/bin/python bench/groupstorm.py [--db sqlite|postgresql] [--seconds 10]

Prints: the 429s the bot received (goal 0), /events answered (in the group / privately; goal: all),
presses answered, whether the vote tally is exact, RSVPs stored, the most messages+edits to the
group in any minute as the fake counted them (goal <= 20), and when the last answer arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select

from bot.db import models as m
from bot.schedule.notices import enqueue
from bot.testing import db as testdb
from bot.testing.fake_bot_api import Call, FakeBotAPI
from bot.testing.harness import BotHarness
from bot.testing.receiver import busiest, replied_to

CODES = ("f", "a", "x")
NAMES = {"f": "for", "a": "against", "x": "abstain"}


async def storm(h: BotHarness, api: FakeBotAPI, seconds: float) -> dict[str, Any]:
    admin = h.user(1, "Mette", "en", username="mette")
    group = h.group("Netværket", admins=[admin])
    await h.say(admin, "/setup", group)
    await h.say(admin, "/settings language en", group)
    # An event whose card (with Going / Not going) is in the group.
    async with h.services.sessionmaker() as s:
        net = await s.scalar(select(m.Network).where(m.Network.chat_id == group.id))
        assert net is not None
        ev = m.Event(
            network_id=net.id, title="Fællesspisning", starts_at=h.clock() + timedelta(days=3), language="da"
        )
        s.add(ev)
        await s.flush()
        await enqueue(
            s,
            kind="event_card",
            dedup_key=f"storm:card:{ev.id}",
            chat_id=group.id,
            due_at=h.clock(),
            network_id=net.id,
            ref_id=ev.id,
        )
        await s.commit()
        event_id = ev.id
    await h.run_due()
    card = next(c for c in api.sent_messages(group.id) if "Fællesspisning" in (c.text or ""))
    calls = await h.say(admin, "/vote Skal vi holde sommerfest?", group)
    vote_msg = next(c for c in calls if c.method == "sendMessage" and c.buttons())
    async with h.services.sessionmaker() as s:
        vote = await s.scalar(select(m.Vote).where(m.Vote.message_id == vote_msg.message_id))
        assert vote is not None
        vote_id = vote.id

    actions: list[tuple[str, int]] = [("vote", i) for i in range(300)]
    actions += [("events", i) for i in range(40)] + [("rsvp", i) for i in range(20)]
    random.Random(7).shuffle(actions)
    expected: Counter[str] = Counter()
    asked: list[tuple[int, int, float]] = []  # (user, message id, time)
    first = len(api.all_calls)
    start = time.monotonic()
    for n, (what, i) in enumerate(actions):
        delay = start + seconds * n / len(actions) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        h._injected += 1
        if what == "vote":
            user = h.user(100_000 + i, f"V{i}", ("da", "ar", "ti", "en")[i % 4])
            code = CODES[i % 3]
            expected[NAMES[code]] += 1
            api.press_button(user, group, vote_msg.message_id or 0, f"vote:{vote_id}:{code}")
        elif what == "events":
            user = h.user(300 + i, f"E{i}", "da")
            msg = api.inject_message(user, group, "/events")
            asked.append((user.id, msg["message_id"], time.monotonic()))
        else:
            user = h.user(400 + i, f"R{i}", "da")
            api.press(user, group, card.message_id or 0, "Going")
    injected = time.monotonic() - start
    await h.settle(timeout=600)
    handled = time.monotonic() - start

    in_group = privately = 0
    last_answer = 0.0
    for user_id, mid, _at in asked:
        g = [c for c in api.sent_messages(group.id) if replied_to(c) == mid]
        p = [c for c in api.sent_messages(user_id)]
        if g:
            in_group += 1
            last_answer = max(last_answer, g[0].time - start)
        elif p:
            privately += 1
            last_answer = max(last_answer, p[0].time - start)
    async with h.services.sessionmaker() as s:
        ballots = Counter((await s.scalars(select(m.Ballot.choice).where(m.Ballot.vote_id == vote_id))).all())
        going = await s.scalar(
            select(func.count())
            .select_from(m.Rsvp)
            .where(m.Rsvp.event_id == event_id, m.Rsvp.status == "going")
        )
    close_at = len(api.all_calls)
    await h.say(admin, f"/closevote {vote_id}", group)

    def final(c: Call) -> bool:
        text = c.plain_text or ""
        return (
            c.method == "editMessageText"
            and c.ok
            and c.params.get("message_id") == vote_msg.message_id
            and all(
                f"{label} ({expected[k]})" in text for k, label in (("for", "For"), ("against", "Against"))
            )
            and not c.buttons()
        )

    try:
        await api.wait_for(final, timeout=120, start=close_at)
        shown = True
    except AssertionError:
        shown = False
    group_calls = [
        c.time
        for c in api.all_calls[first:]
        if c.chat_id == group.id and c.method in ("sendMessage", "editMessageText", "sendDocument") and c.ok
    ]
    presses = [c for c in api.all_calls[first:close_at] if c.method == "answerCallbackQuery" and c.ok]
    return {
        "injected": injected,
        "handled": handled,
        "in_group": in_group,
        "privately": privately,
        "asked": len(asked),
        "last_answer": last_answer,
        "tally_db": dict(ballots) == dict(expected),
        "tally_shown": shown,
        "going": going,
        "presses_answered": len(presses),
        "group_minute": busiest(group_calls, 60.0),
        "group_total": len(group_calls),
        "429s": api.count_429,
    }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = await testdb.sqlite_url(Path(tmp)) if args.db == "sqlite" else await testdb.pg_url()
        api = FakeBotAPI(enforce_limits=True)
        await api.start()
        try:
            async with BotHarness(url, api=api, now=datetime.now(UTC)) as h:
                r = await storm(h, api, args.seconds)
        finally:
            await api.stop()
            if args.db == "postgresql":
                await testdb.drop_pg(url)
    print(
        f"group storm on {args.db}: 300 vote presses, 40 /events, 20 RSVPs in {args.seconds:.0f} s, one group"
    )
    print(f"  injected in {r['injected']:.1f} s, all handled {r['handled']:.1f} s after the first")
    print(
        f"  /events answered         {r['in_group'] + r['privately']}/{r['asked']} "
        f"({r['in_group']} in the group, {r['privately']} privately); last after {r['last_answer']:.1f} s"
    )
    print(f"  presses answered         {r['presses_answered']}/320")
    print(f"  vote tally exact         database {r['tally_db']}, final message {r['tally_shown']}")
    print(f"  RSVPs stored (going)     {r['going']}/20")
    print(f"  group sends, any minute  {r['group_minute']} (goal <= 20); {r['group_total']} in all")
    print(f"  429s received            {r['429s']} (goal 0)")


if __name__ == "__main__":
    asyncio.run(main())
