"""Places under concurrency: many `Going` presses at once never take more than the limit, the waiting
list is in press order, and `Not going` presses promote the first waiting, in order — on one instance
(SQLite and PostgreSQL) and on two instances sharing one PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Update
from telegram.ext import Application

from bot.app import build_application
from bot.config import Settings
from bot.db import models as m
from bot.testing.fake_bot_api import FakeBotAPI, FakeChat, FakeUser, group_chat
from bot.testing.harness import BotHarness, FakeClock

PLACES = 10
PEOPLE = 40
LEAVING = 5


async def state(sessionmaker: Any) -> tuple[list[int], list[int]]:
    """(tg ids going, tg ids waiting in the list's order)."""
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
    return sorted(going), list(waiting)


def promotion_targets(api: FakeBotAPI, people: list[FakeUser]) -> list[int]:
    ids = {u.id for u in people}
    return [
        c.chat_id for c in api.sent_messages() if c.chat_id in ids and (c.plain_text or "").startswith("🎉")
    ]


async def check_run(
    press: Any, run_due: Any, api: FakeBotAPI, sessionmaker: Any, people: list[FakeUser], card: int
) -> None:
    # everyone presses Going at once, in this order
    await press([(u, "ev:1:go") for u in people])
    going, waiting = await state(sessionmaker)
    assert len(going) == PLACES, going
    order = [u.id for u in people]
    assert len(waiting) == PEOPLE - PLACES
    # the waiting list is in press order
    assert waiting == [uid for uid in order if uid not in going]
    answers = [c for c in api.all_calls if c.method == "answerCallbackQuery"]
    told = [str(c.params.get("text") or "") for c in answers]
    assert sum("waiting list" in t for t in told) == PEOPLE - PLACES

    # LEAVING of those going give their places back at once: the first LEAVING waiting get them
    leavers = [u for u in people if u.id in going][:LEAVING]
    await press([(u, "ev:1:no") for u in leavers])
    going_after, waiting_after = await state(sessionmaker)
    assert len(going_after) == PLACES
    assert set(going_after) == (set(going) - {u.id for u in leavers}) | set(waiting[:LEAVING])
    assert waiting_after == waiting[LEAVING:]
    await run_due()
    assert sorted(promotion_targets(api, people)) == sorted(waiting[:LEAVING])


def card_of(api: FakeBotAPI, group: FakeChat) -> int:
    return next(
        c.message_id or 0
        for c in api.sent_messages(group.id)
        if c.buttons() and "Fællesspisning" in (c.plain_text or "")
    )


async def _event_with_places(say: Any, admin: FakeUser, group: FakeChat) -> None:
    await say(admin, "/setup", group)
    await say(admin, "/newevent Fællesspisning | 3. december kl. 17 | Egebæk", group)
    await say(admin, f"/places 1 {PLACES}", group)


async def test_one_instance_never_more_than_the_places(clocked_bot: BotHarness) -> None:
    bot = clocked_bot
    admin = bot.user(1, "Mette", "en")
    group = bot.group("Network", admins=[admin])
    await _event_with_places(bot.say, admin, group)
    card = card_of(bot.api, group)
    people = [bot.user(100 + i, f"P{i}", "en") for i in range(PEOPLE)]
    for u in people:
        await bot.say(u, "/start")

    async def press(presses: list[tuple[FakeUser, str]]) -> None:
        for user, data in presses:
            bot._injected += 1  # the harness waits for every injected update
            bot.api.press_button(user, group, card, data)
        await bot.settle(timeout=120)

    await check_run(press, bot.run_due, bot.api, bot.services.sessionmaker, people, card)


# --- two instances on one PostgreSQL -----------------------------------------------------------


@pytest.fixture
async def two_instances(db_url: str) -> AsyncIterator[tuple[FakeBotAPI, list[Application]]]:  # type: ignore[type-arg]
    if not db_url.startswith("postgresql"):
        pytest.skip("several instances share a PostgreSQL database")
    clock = FakeClock(datetime(2026, 11, 23, 9, 0, tzinfo=UTC))
    async with FakeBotAPI(latency=0.005) as api:
        apps = []
        for i in range(2):
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                bot_token="123456:TEST-TOKEN",
                database_url=db_url,
                bot_api_base_url=api.base_url,
                bot_api_base_file_url=api.base_file_url,
            )
            app = build_application(
                settings, clock=clock, dispatch=False, register_commands=False, migrate=i == 0
            )
            await app.initialize()
            if app.post_init is not None:
                await app.post_init(app)
            await app.start()
            apps.append(app)
        try:
            yield api, apps
        finally:
            for app in apps:
                await app.stop()
                await app.shutdown()
                if app.post_shutdown is not None:
                    await app.post_shutdown(app)


async def test_two_instances_never_more_than_the_places(
    two_instances: tuple[FakeBotAPI, list[Application]],  # type: ignore[type-arg]
) -> None:
    api, apps = two_instances
    turn = [0]

    async def deliver(update: dict[str, Any]) -> None:
        app = apps[turn[0] % 2]  # a load balancer: each update to the next instance
        turn[0] += 1
        await app.process_update(Update.de_json(update, app.bot))

    def queued() -> dict[str, Any]:
        return dict(api._updates.pop())

    async def say(user: FakeUser, text: str, chat: FakeChat | None = None) -> None:
        api.inject_message(user, chat, text)
        await deliver(queued())

    admin = FakeUser(id=1, first_name="Mette", language_code="en")
    group = group_chat(-100777, "Network")
    api.set_admins(group.id, [admin.id])
    await _event_with_places(say, admin, group)
    card = card_of(api, group)
    people = [FakeUser(id=100 + i, first_name=f"P{i}", language_code="en") for i in range(PEOPLE)]
    for u in people:
        await say(u, "/start")

    async def press(presses: list[tuple[FakeUser, str]]) -> None:
        updates = []
        for user, data in presses:
            api.press_button(user, group, card, data)
            updates.append(queued())
        # all handled at once, alternately by the two instances
        await asyncio.gather(*(deliver(u) for u in updates))

    async def run_due() -> int:
        sent = await asyncio.gather(*(app.bot_data["services"].dispatcher.run_due() for app in apps))
        return sum(sent)

    await check_run(press, run_due, api, apps[0].bot_data["services"].sessionmaker, people, card)
