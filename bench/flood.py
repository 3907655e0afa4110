"""Flood drill: one member sends 200 commands in 10 s in a group while five others send one each,
against the local Bot API fake with Telegram's limits enforced (20 messages per group and minute).

    .venv/bin/python bench/flood.py [--db sqlite|postgresql] [--commands 200] [--seconds 10]

Prints: how long each of the five waited for its answer (goal <= 2 s), the notices the flooder got
(goal 1), how many of the flooder's commands were answered, the group messages in any minute, and the
429s the bot received (goal 0).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.testing import db as testdb
from bot.testing.fake_bot_api import Call, FakeBotAPI
from bot.testing.harness import BotHarness

COMMANDS = ["/events", "/help", "/meetings", "/decisions"]
NOTICE_MARK = "⏸"


def reply_to(c: Call) -> int | None:
    rp = c.params.get("reply_parameters")
    if isinstance(rp, dict):
        return rp.get("message_id")
    return c.params.get("reply_to_message_id")


def max_per_minute(times: list[float]) -> int:
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - 60.0:
            j += 1
        best = max(best, i - j + 1)
    return best


async def drill(h: BotHarness, api: FakeBotAPI, commands: int, seconds: float) -> dict[str, Any]:
    admin = h.user(1, "Mette", "da")
    group = h.group("Flodnetværket", admins=[admin])
    await h.say(admin, "/setup", group)
    await h.settle()
    await asyncio.sleep(0.5)
    api.reset_limits()  # the group was set up long ago; its minute starts now
    api.count_429 = 0
    first = len(api.all_calls)
    flooder = h.user(66, "Flod", "ar")
    others = [h.user(100 + i, f"Frivillig{i}", ("da", "ar", "ti", "en", "da")[i]) for i in range(5)]
    # the five speak at evenly spread moments inside the flood
    other_at = {round(commands * (i + 0.5) / len(others)): u for i, u in enumerate(others)}
    asked: dict[int, tuple[float, int]] = {}
    start = time.perf_counter()
    for i in range(commands):
        delay = start + seconds * i / commands - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        h._injected += 1
        api.inject_message(flooder, group, f"{COMMANDS[i % len(COMMANDS)]}")
        if i in other_at:
            user = other_at[i]
            h._injected += 1
            msg = api.inject_message(user, group, "/events")
            asked[user.id] = (time.monotonic(), msg["message_id"])
    await h.settle(timeout=300)

    def answered(mid: int, user_id: int, at: float) -> Any:
        # In the group as a reply, or privately (a busy group's answer goes to the person: handlers.common)
        return lambda c: (
            c.method == "sendMessage"
            and c.ok
            and (reply_to(c) == mid or (c.chat_id == user_id and c.time >= at))
        )

    waits: list[float | None] = []
    for user in others:
        at, mid = asked[user.id]
        try:
            call: Call = await api.wait_for(answered(mid, user.id, at), timeout=70, start=first)
            waits.append(call.time - at)
        except AssertionError:
            waits.append(None)
    calls = api.all_calls[first:]
    group_msgs = [c for c in calls if c.chat_id == group.id and c.method == "sendMessage"]
    notices = [c for c in group_msgs if c.ok and (c.plain_text or "").startswith(NOTICE_MARK)]
    flooder_mids = {
        m["message_id"]
        for m in api.messages.get(group.id, {}).values()
        if m.get("from", {}).get("id") == flooder.id
    }
    answered_flooder = [c for c in group_msgs if c.ok and reply_to(c) in flooder_mids and c not in notices]
    return {
        "waits": waits,
        "notices": len(notices),
        "flooder_answered": len(answered_flooder),
        "group_max_minute": max_per_minute(sorted(c.time for c in group_msgs if c.ok)),
        "429": api.count_429,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--commands", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = await testdb.sqlite_url(Path(tmp)) if args.db == "sqlite" else await testdb.pg_url()
        api = FakeBotAPI(enforce_limits=True)
        await api.start()
        try:
            async with BotHarness(url, api=api, settings={"flood_limit": 20}) as h:
                r = await drill(h, api, args.commands, args.seconds)
        finally:
            await api.stop()
            if args.db == "postgresql":
                await testdb.drop_pg(url)
    print(
        f"flood drill on {args.db}: 1 member sends {args.commands} commands in {args.seconds:.0f} s in a group,"
    )
    print("  5 others send one each meanwhile; Telegram's limits enforced by the fake")
    shown = ", ".join("no answer" if w is None else f"{w:.2f} s" for w in r["waits"])
    worst = max((w for w in r["waits"] if w is not None), default=float("nan"))
    lost = sum(w is None for w in r["waits"])
    print(f"  the 5 others answered after: {shown} (worst {worst:.2f} s, unanswered {lost}; goal <= 2 s)")
    print(f"  notices to the flooder: {r['notices']} (goal 1)")
    print(f"  flooder's commands answered before the notice: {r['flooder_answered']}")
    print(f"  messages to the group in any minute: at most {r['group_max_minute']} (Telegram allows 20)")
    print(f"  429s received: {r['429']} (goal 0)")


if __name__ == "__main__":
    asyncio.run(main())
