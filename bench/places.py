"""Places rush: 300 people press `Going` within about two seconds on an event with 40 places, against
the local Bot API fake with Telegram's limits enforced; then 20 of those going press `Not going`.

    .venv/bin/python bench/places.py [--db sqlite|postgresql] [--people 300] [--places 40] [--spread 2.0]

SQLite runs one instance; PostgreSQL runs two instances on one database, the presses handed to them
alternately (a load balancer). Prints: places taken (must equal the places), the waiting list's
length and whether its order is the press order, presses answered per second, 429s; then the
promotions (each a private message, in waiting-list order) and the time to the last one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import select
from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.config import Settings
from bot.db import models as m
from bot.testing import db as testdb
from bot.testing.fake_bot_api import FakeBotAPI, FakeChat, FakeUser, group_chat, private_chat
from bot.testing.harness import BotHarness


class Instances:
    """N real Applications on one database. Each update is put on the next instance's update queue
    (a load balancer), where PTB handles it as it would one from Telegram: at most 64 at a time."""

    def __init__(self, api: FakeBotAPI, url: str, count: int) -> None:
        self.api, self.url, self.count = api, url, count
        self.apps: list[Application] = []  # type: ignore[type-arg]
        self.turn = 0
        self.injected = 0
        self.processed = 0
        self.cond = asyncio.Condition()

    async def start(self) -> None:
        for i in range(self.count):
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                bot_token="123456:TEST-TOKEN",
                database_url=self.url,
                bot_api_base_url=self.api.base_url,
                bot_api_base_file_url=self.api.base_file_url,
            )
            app = build_application(settings, dispatch=True, register_commands=False, migrate=i == 0)
            original = app.process_update

            async def tracked(update: object, original: Any = original) -> None:
                try:
                    await original(update)
                finally:
                    async with self.cond:
                        self.processed += 1
                        self.cond.notify_all()

            app.process_update = tracked  # type: ignore[method-assign]
            await app.initialize()
            if app.post_init is not None:
                await app.post_init(app)
            await app.start()
            self.apps.append(app)

    async def stop(self) -> None:
        for app in self.apps:
            await app.stop()
            await app.shutdown()
            if app.post_shutdown is not None:
                await app.post_shutdown(app)

    @property
    def sessionmaker(self) -> Any:
        return self.apps[0].bot_data["services"].sessionmaker

    def _deliver_last(self) -> None:
        update = dict(self.api._updates.pop())  # nobody polls: take it off the fake's queue
        app = self.apps[self.turn % self.count]
        self.turn += 1
        self.injected += 1
        app.update_queue.put_nowait(Update.de_json(update, app.bot))

    async def say(self, user: FakeUser, text: str, chat: FakeChat | None = None) -> None:
        self.api.inject_message(user, chat or private_chat(user), text)
        self._deliver_last()
        await self.settle()

    def press(self, user: FakeUser, chat: FakeChat, message_id: int, data: str) -> None:
        self.api.press_button(user, chat, message_id, data)
        self._deliver_last()

    async def settle(self) -> None:
        async with self.cond:
            await asyncio.wait_for(self.cond.wait_for(lambda: self.processed >= self.injected), 300)


class Harnessed:
    def __init__(self, h: BotHarness) -> None:
        self.h = h
        self.sessionmaker = h.services.sessionmaker

    async def say(self, user: FakeUser, text: str, chat: FakeChat | None = None) -> None:
        await self.h.say(user, text, chat)

    def press(self, user: FakeUser, chat: FakeChat, message_id: int, data: str) -> None:
        self.h._injected += 1
        self.h.api.press_button(user, chat, message_id, data)

    async def settle(self) -> None:
        await self.h.settle(timeout=300)


async def state(sessionmaker: Any) -> tuple[set[int], list[int]]:
    async with sessionmaker() as s:
        going = (
            await s.scalars(
                select(m.Person.tg_id)
                .join(m.Rsvp, m.Rsvp.person_id == m.Person.id)
                .where(m.Rsvp.status == "going")
            )
        ).all()
        waiting = (
            await s.scalars(
                select(m.Person.tg_id)
                .join(m.WaitingEntry, m.WaitingEntry.person_id == m.Person.id)
                .order_by(m.WaitingEntry.press_key, m.WaitingEntry.id)
            )
        ).all()
    return set(going), list(waiting)


async def rush(
    env: Any, api: FakeBotAPI, people: int, places: int, spread: float, leaving: int
) -> dict[str, Any]:
    admin = FakeUser(id=1, first_name="Mette", language_code="en")
    group = group_chat(-1001234567, "Netværket")
    api.set_admins(group.id, [admin.id])
    await env.say(admin, "/setup", group)
    await env.say(admin, "/settings language en", group)
    await env.say(admin, "/newevent Fællesspisning | tomorrow 18:00 | Egebæk", group)
    await env.say(admin, f"/places 1 {places}", group)
    card = next(
        c.message_id
        for c in api.sent_messages(group.id)
        if c.buttons() and "Fællesspisning" in (c.plain_text or "")
    )
    users = [FakeUser(id=100_000 + i, first_name=f"Frivillig{i}", language_code="en") for i in range(people)]
    for u in users:  # each has a private chat with the bot (the promotion is a private message)
        await env.say(u, "/start")
    first_call = len(api.all_calls)
    setup_429 = api.count_429
    start = time.perf_counter()
    for i, user in enumerate(users):
        delay = start + spread * i / people - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        env.press(user, group, card, "ev:1:go")
    await env.settle()
    handled = time.perf_counter() - start
    going, waiting = await state(env.sessionmaker)
    order = [u.id for u in users]
    answers = [c for c in api.all_calls[first_call:] if c.method == "answerCallbackQuery" and c.ok]
    result: dict[str, Any] = {
        "taken": len(going),
        "waiting": len(waiting),
        "in_press_order": waiting == [uid for uid in order if uid not in going],
        "going_first_presses": going == set(order[:places]),
        "answered": len(answers),
        "rate": people / handled,
        "handled_s": handled,
        "setup_429": setup_429,
        "rush_429": api.count_429 - setup_429,
    }

    # `leaving` of those going give their places back at once
    leavers = [u for u in users if u.id in going][:leaving]
    expected = waiting[:leaving]
    mark = len(api.all_calls)
    before_leaving_429 = api.count_429
    t0 = time.perf_counter()
    for u in leavers:
        env.press(u, group, card, "ev:1:no")
    await env.settle()
    going2, waiting2 = await state(env.sessionmaker)

    def promoted_calls() -> list[int]:
        return [
            c.chat_id or 0
            for c in api.all_calls[mark:]
            if c.method == "sendMessage" and c.ok and (c.plain_text or "").startswith("🎉")
        ]

    deadline = time.perf_counter() + 120
    while len(promoted_calls()) < len(expected) and time.perf_counter() < deadline:
        await asyncio.sleep(0.01)
    last = time.perf_counter() - t0
    got = promoted_calls()
    result.update(
        {
            "taken_after": len(going2),
            "promotions": len(got),
            "promotions_right_people": sorted(got) == sorted(expected),
            "promoted_first_waiting": set(going2) - set(going) == set(expected)
            and waiting2 == waiting[leaving:],
            "promotion_messages_in_order": got == expected,
            "last_promotion_s": last,
            "leaving_429": api.count_429 - before_leaving_429,
        }
    )
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--people", type=int, default=300)
    parser.add_argument("--places", type=int, default=40)
    parser.add_argument("--spread", type=float, default=2.0, help="seconds over which the presses arrive")
    parser.add_argument("--leaving", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = await testdb.sqlite_url(Path(tmp)) if args.db == "sqlite" else await testdb.pg_url()
        api = FakeBotAPI(enforce_limits=True)
        await api.start()
        run: Callable[[Any], Awaitable[dict[str, Any]]] = lambda env: rush(  # noqa: E731
            env, api, args.people, args.places, args.spread, args.leaving
        )
        try:
            if args.db == "sqlite":
                async with BotHarness(url, api=api, dispatch=os.environ.get("NODISPATCH") is None) as h:
                    r = await run(Harnessed(h))
                instances = 1
            else:
                env = Instances(api, url, 2)
                await env.start()
                try:
                    r = await run(env)
                finally:
                    await env.stop()
                instances = 2
        finally:
            await api.stop()
            if args.db == "postgresql":
                await testdb.drop_pg(url)
    print(
        f"places rush on {args.db} ({instances} instance{'s' if instances > 1 else ''}): {args.people} press "
        f"Going within {args.spread:.1f} s on a {args.places}-place event; Telegram limits enforced by the fake"
    )
    print(f"  places taken: {r['taken']} (must be {args.places})")
    print(
        f"  waiting list: {r['waiting']} (expected {args.people - args.places}); in press order: {r['in_press_order']}"
    )
    print(f"  the places went to the first {args.places} presses: {r['going_first_presses']}")
    print(
        f"  presses answered: {r['answered']} of {args.people}, {r['rate']:.0f} presses/s (all handled {r['handled_s']:.2f} s after the first)"
    )
    print(f"  then {args.leaving} of those going press Not going:")
    print(f"    places taken after: {r['taken_after']}; promotions (private messages): {r['promotions']}")
    print(
        f"    the first {args.leaving} waiting were promoted: {r['promoted_first_waiting']}; messages to them: {r['promotions_right_people']}, sent in waiting-list order: {r['promotion_messages_in_order']}"
    )
    print(f"    time to the last promotion message: {r['last_promotion_s']:.2f} s")
    where: Counter[str] = Counter(
        f"{c.method} to {'a group' if (c.chat_id or 0) < 0 else 'a private chat'}"
        for c in api.all_calls
        if c.status == 429
    )
    print(
        f"  429s received: {api.count_429} in all (goal 0): {r['rush_429']} during the rush, "
        f"{r['leaving_429']} during the promotions, {r['setup_429']} while setting up (300 /start replies)"
        + (f"; {dict(where)}" if where else "")
    )


if __name__ == "__main__":
    asyncio.run(main())
