"""Vote storm: 300 voters press the buttons of one vote within about two seconds, against the local
Bot API fake with Telegram's limits enforced (20 messages, edits included, per group and minute).

    .venv/bin/python bench/votestorm.py [--db sqlite|postgresql] [--voters 300] [--spread 2.0]

Prints: presses handled per second (in the storm, and with all presses injected at once), whether
the tally is exact (in the database, in the decision, and on the vote message after closing), the
most edits of the vote message in any minute, and the 429s the bot received.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select

from bot.db import models as m
from bot.testing import db as testdb
from bot.testing.fake_bot_api import Call, FakeBotAPI
from bot.testing.harness import BotHarness

CODES = ("f", "a", "x")
NAMES = {"f": "for", "a": "against", "x": "abstain"}


def max_per_minute(times: list[float]) -> int:
    best = 0
    j = 0
    for i, t in enumerate(times):
        while times[j] <= t - 60.0:
            j += 1
        best = max(best, i - j + 1)
    return best


async def storm(h: BotHarness, api: FakeBotAPI, voters: int, spread: float, base_id: int, label: str) -> dict:
    admin = h.user(1, "Mette", "en", username="mette")
    group = h.group(f"Netværk {label}", admins=[admin])
    await h.say(admin, "/setup", group)
    await h.say(admin, "/settings language en", group)  # the checks below read the English labels
    calls = await h.say(admin, f"/vote Storm {label}: skal vi holde sommerfest?", group)
    msg = next(c for c in calls if c.method == "sendMessage" and c.buttons())
    async with h.services.sessionmaker() as s:
        vote = await s.scalar(
            select(m.Vote).where(m.Vote.message_id == msg.message_id, m.Vote.chat_id == group.id)
        )
        assert vote is not None
        vote_id = vote.id
    expected: Counter[str] = Counter()
    users = [h.user(base_id + i, f"Frivillig{i}", ("da", "ar", "ti", "en")[i % 4]) for i in range(voters)]
    first_call = len(api.all_calls)
    start = time.perf_counter()
    for i, user in enumerate(users):
        if spread > 0:
            # presses arrive spread evenly over `spread` seconds
            delay = start + spread * i / voters - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        code = CODES[i % 3]
        expected[NAMES[code]] += 1
        h._injected += 1
        api.press_button(user, group, msg.message_id, f"vote:{vote_id}:{code}")
    injected = time.perf_counter() - start
    await h.settle(timeout=300)
    handled = time.perf_counter() - start
    async with h.services.sessionmaker() as s:
        rows = (await s.scalars(select(m.Ballot.choice).where(m.Ballot.vote_id == vote_id))).all()
    in_db = Counter(rows)
    close_start = len(api.all_calls)
    await h.say(admin, f"/closevote {vote_id}", group)
    async with h.services.sessionmaker() as s:
        decision = await s.scalar(select(m.Decision).where(m.Decision.vote_id == vote_id))
        assert decision is not None
        d = decision.details

    def final_edit(c: Call) -> bool:
        text = c.plain_text or ""
        return (
            c.method == "editMessageText"
            and c.ok
            and c.params.get("message_id") == msg.message_id
            and c.chat_id == group.id
            and f"For ({expected['for']})" in text
            and f"Against ({expected['against']})" in text
            and f"Abstain ({expected['abstain']})" in text
            and not c.buttons()
        )

    shown = True
    try:
        await api.wait_for(final_edit, timeout=90, start=close_start)
    except AssertionError:
        shown = False
    edits = [
        c.time
        for c in api.all_calls
        if c.method == "editMessageText"
        and c.chat_id == group.id
        and c.params.get("message_id") == msg.message_id
    ]
    group_calls = [
        c.time
        for c in api.all_calls
        if c.chat_id == group.id and c.method in ("sendMessage", "editMessageText")
    ]
    answers = [c for c in api.all_calls[first_call:close_start] if c.method == "answerCallbackQuery" and c.ok]
    return {
        "voters": voters,
        "injected_s": injected,
        "handled_s": handled,
        "exact_db": dict(in_db) == dict(expected),
        "exact_decision": (d["for"], d["against"], d["abstain"])
        == (expected["for"], expected["against"], expected["abstain"]),
        "final_shown": shown,
        "edits_total": len(edits),
        "edits_max_minute": max_per_minute(sorted(edits)),
        "group_msgs_max_minute": max_per_minute(sorted(group_calls)),
        "answers": len(answers),
        "expected": dict(expected),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--voters", type=int, default=300)
    parser.add_argument("--spread", type=float, default=2.0, help="seconds over which the presses arrive")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = await testdb.sqlite_url(Path(tmp)) if args.db == "sqlite" else await testdb.pg_url()
        api = FakeBotAPI(enforce_limits=True)
        await api.start()
        try:
            async with BotHarness(url, api=api) as h:
                spread = await storm(h, api, args.voters, args.spread, 100_000, "A")
                burst = await storm(h, api, args.voters, 0.0, 200_000, "B")
        finally:
            await api.stop()
            if args.db == "postgresql":
                await testdb.drop_pg(url)
    print(f"vote storm on {args.db}: {args.voters} voters, Telegram limits enforced by the fake")
    for name, r in (
        (f"storm (presses spread over {args.spread:.1f} s)", spread),
        ("burst (all injected at once)", burst),
    ):
        rate = r["voters"] / r["handled_s"]
        print(f"  {name}:")
        print(
            f"    all {r['voters']} presses handled {r['handled_s']:.2f} s after the first -> {rate:.0f} presses/s"
        )
        print(f"    answers to presses (answerCallbackQuery): {r['answers']}")
        exact = r["exact_db"] and r["exact_decision"] and r["final_shown"]
        print(
            f"    tally exact: {'yes' if exact else 'NO'} (database {r['exact_db']}, decision {r['exact_decision']}, "
            f"final message {r['final_shown']}; expected {r['expected']})"
        )
        print(
            f"    edits of the vote message: {r['edits_total']} in all, at most {r['edits_max_minute']} in any minute (goal <= 20)"
        )
        print(f"    messages+edits to the group in any minute: at most {r['group_msgs_max_minute']}")
    print(f"  429s received: {api.count_429} (goal 0)")
    burst_rate = burst["voters"] / burst["handled_s"]
    print(f"  presses handled per second (burst capacity): {burst_rate:.0f} (goal >= 200 on SQLite)")


if __name__ == "__main__":
    asyncio.run(main())
